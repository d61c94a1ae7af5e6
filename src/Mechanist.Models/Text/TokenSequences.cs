using System.Text;
using System.Text.Json;

namespace Mechanist.Models.Text;

/// <summary>
/// Token-id sequences read from a file, each at most the context length, in file order. Harvesting runs them as
/// they are; activations come out sequence by sequence, position by position.
/// </summary>
public sealed class TokenSequences
{
    TokenSequences(string source, List<long[]> sequences)
    {
        Source = source;
        Sequences = sequences;
        TotalTokens = sequences.Sum(s => (long)s.Length);
    }

    /// <summary>The file the ids came from.</summary>
    public string Source { get; }

    public IReadOnlyList<long[]> Sequences { get; }

    public long TotalTokens { get; }

    /// <summary>
    /// The sequences of at least <paramref name="minLength"/> tokens, grouped by length into batches [b, length] on
    /// <paramref name="device"/> (at most <paramref name="batchSize"/> rows each).
    /// </summary>
    public IEnumerable<TorchSharp.torch.Tensor> Batches(int batchSize, TorchSharp.torch.Device device, int minLength = 1)
    {
        foreach (var group in Sequences.Where(s => s.Length >= minLength).GroupBy(s => s.Length))
            foreach (var chunk in group.Chunk(batchSize))
                yield return TorchSharp.torch.tensor(chunk.SelectMany(s => s).ToArray()).view(chunk.Length, group.Key).to(device);
    }

    public static TokenSequences FromSequences(string source, IEnumerable<long[]> sequences) => new(source, sequences.ToList());

    /// <summary>
    /// A UTF-8 text file, tokenised as one document with GPT-2's BPE and cut into consecutive sequences of
    /// <paramref name="context"/> tokens (the last one shorter). Every id must be below <paramref name="vocabSize"/>.
    /// </summary>
    public static TokenSequences ReadText(string path, int vocabSize, int context)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(context, 1);
        if (!File.Exists(path)) throw new MechanistInputException($"{path}: text file not found.");
        string text;
        try
        {
            text = File.ReadAllText(path, new UTF8Encoding(false, throwOnInvalidBytes: true));
        }
        catch (DecoderFallbackException e)
        {
            throw new MechanistInputException($"{path}: not valid UTF-8 text (byte offset {e.Index}).", e);
        }
        var ids = Gpt2Tokenizer.Encode(text);
        if (ids.Count == 0) throw new MechanistInputException($"{path}: the text holds no tokens.");
        if (vocabSize < Gpt2Tokenizer.VocabSize)
        {
            for (int i = 0; i < ids.Count; i++)
                if (ids[i] >= vocabSize)
                    throw new MechanistInputException(
                        $"{path}: GPT-2 token {i} of the text has id {ids[i]} ('{Gpt2Tokenizer.Decode([ids[i]])}'), outside the model's vocabulary of {vocabSize} ids; use --tokens with ids the model knows.");
        }
        var sequences = new List<long[]>();
        for (int start = 0; start < ids.Count; start += context)
        {
            int length = Math.Min(context, ids.Count - start);
            var sequence = new long[length];
            for (int j = 0; j < length; j++) sequence[j] = ids[start + j];
            sequences.Add(sequence);
        }
        return new TokenSequences(path, sequences);
    }

    /// <summary>Longest line accepted (about two million token ids); a longer one is refused before it is read whole.</summary>
    public const int MaxLineBytes = 16 << 20;

    /// <summary>
    /// A JSONL file with one JSON list of token ids per line (blank lines skipped; lines end with \n, \r\n or \r).
    /// A line longer than <paramref name="context"/> is cut into consecutive sequences of at most that many tokens.
    /// A line longer than <see cref="MaxLineBytes"/> is refused as soon as it passes the limit. Errors name the file,
    /// the line and the id.
    /// </summary>
    public static TokenSequences ReadJsonl(string path, int vocabSize, int context)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(context, 1);
        if (!File.Exists(path)) throw new MechanistInputException($"{path}: token file not found.");
        var sequences = new List<long[]>();
        int lineNumber = 0;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        var line = new LineBuffer();
        while (line.ReadFrom(stream, path, lineNumber + 1))
        {
            lineNumber++;
            var bytes = line.Bytes;
            if (lineNumber == 1 && bytes.Span.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
            if (IsBlank(bytes.Span)) continue;
            if (Mechanist.IO.JsonFile.FirstInvalidUtf8(bytes.Span) is var bad and >= 0)
                throw new MechanistInputException($"{path}, line {lineNumber}: not valid UTF-8 (byte {bad} of the line).");
            var ids = ParseLine(path, lineNumber, bytes, vocabSize);
            if (ids.Length == 0) throw new MechanistInputException($"{path}, line {lineNumber}: empty token list.");
            for (int start = 0; start < ids.Length; start += context)
                sequences.Add(ids[start..Math.Min(ids.Length, start + context)]);
        }
        if (sequences.Count == 0) throw new MechanistInputException($"{path}: no token lists (expected one JSON list of token ids per line).");
        return new TokenSequences(path, sequences);
    }

    /// <summary>
    /// Token ids from a tensor file: a <c>.safetensors</c> file (tensor <c>tokens</c>, or its only tensor) or a
    /// <c>.npy</c> file, integer, [n_sequences, seq_len] (or one sequence [seq_len]); sequences longer than
    /// <paramref name="context"/> are cut like JSONL lines. Errors name the file.
    /// </summary>
    public static TokenSequences ReadTensorFile(string path, int vocabSize, int context)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(context, 1);
        if (!File.Exists(path)) throw new MechanistInputException($"{path}: token file not found.");
        TorchSharp.torch.Tensor t;
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) t = IO.Npy.Read(path);
        else
        {
            var header = IO.Safetensors.ReadHeader(path);
            var name = header.Entries.ContainsKey("tokens") ? "tokens" : header.Entries.Count == 1 ? header.Entries.Keys.Single()
                : throw new MechanistInputException($"{path}: expected a tensor named 'tokens' (or a single tensor); found {string.Join(", ", header.Entries.Keys)}.");
            t = IO.Safetensors.ReadTensor(header, name);
        }
        using (t)
        {
            if (t.is_floating_point() || t.dtype == TorchSharp.torch.ScalarType.Bool || t.ndim is not (1 or 2) || t.numel() == 0)
                throw new MechanistInputException($"{path}: expected integer token ids [n_sequences, seq_len], got {t.dtype} [{string.Join(", ", t.shape)}].");
            var rows = t.ndim == 1 ? t.unsqueeze(0) : t;
            var ids = rows.to(TorchSharp.torch.ScalarType.Int64).contiguous().data<long>().ToArray();
            long width = rows.shape[1];
            var sequences = new List<long[]>();
            for (long r = 0; r < rows.shape[0]; r++)
            {
                var row = ids.AsSpan((int)(r * width), (int)width).ToArray();
                for (int i = 0; i < row.Length; i++)
                    if (row[i] < 0 || row[i] >= vocabSize)
                        throw new MechanistInputException($"{path}: token id {row[i]} (sequence {r}, position {i}) is outside the model's vocabulary [0, {vocabSize}).");
                for (int start = 0; start < row.Length; start += context)
                    sequences.Add(row[start..Math.Min(row.Length, start + context)]);
            }
            return new TokenSequences(path, sequences);
        }
    }

    static bool IsBlank(ReadOnlySpan<byte> line) => line.IndexOfAnyExcept(" \t\f\v"u8) < 0;

    /// <summary>One line of a file as bytes, bounded by <see cref="MaxLineBytes"/>.</summary>
    sealed class LineBuffer
    {
        byte[] _buffer = new byte[4096];
        int _length;

        public ReadOnlyMemory<byte> Bytes => _buffer.AsMemory(0, _length);

        /// <summary>Reads the next line; false at the end of the file.</summary>
        public bool ReadFrom(Stream stream, string path, int lineNumber)
        {
            _length = 0;
            int b = stream.ReadByte();
            if (b < 0) return false;
            while (b >= 0 && b != '\n' && b != '\r')
            {
                if (_length == MaxLineBytes)
                    throw new MechanistInputException(
                        $"{path}, line {lineNumber}: longer than {MaxLineBytes} bytes; put each token list on a line of its own (long documents are cut into context-length sequences anyway).");
                if (_length == _buffer.Length) Array.Resize(ref _buffer, (int)Math.Min((long)_buffer.Length * 2, MaxLineBytes));
                _buffer[_length++] = (byte)b;
                b = stream.ReadByte();
            }
            if (b == '\r')
            {
                int next = stream.ReadByte();
                if (next >= 0 && next != '\n') stream.Seek(-1, SeekOrigin.Current);
            }
            return true;
        }
    }

    static long[] ParseLine(string path, int lineNumber, ReadOnlyMemory<byte> line, int vocabSize)
    {
        var where = $"{path}, line {lineNumber}";
        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                throw new MechanistInputException($"{where}: expected a JSON list of token ids, got a JSON {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}.");
            var ids = new long[doc.RootElement.GetArrayLength()];
            int i = 0;
            foreach (var item in doc.RootElement.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var id))
                    throw new MechanistInputException($"{where}: item {i} ({item.GetRawText()}) is not an integer token id.");
                if (id < 0 || id >= vocabSize)
                    throw new MechanistInputException($"{where}: token id {id} (item {i}) is outside the model's vocabulary [0, {vocabSize}).");
                ids[i++] = id;
            }
            return ids;
        }
        catch (JsonException e)
        {
            throw new MechanistInputException($"{where}: not valid JSON ({e.Message}).", e);
        }
    }
}
