using System.Globalization;
using Mechanist.Cli.Commands;
using Mechanist.IO;
using Mechanist.Models;
using Mechanist.Models.Text;
using static TorchSharp.torch;

namespace Mechanist.Cli.CommandLine;

/// <summary>
/// The value of a token-id option (<c>--tokens</c>, <c>--baseline-tokens</c>), read the same way by every command:
/// <list type="bullet">
/// <item>a <c>.jsonl</c> (or <c>.json</c>) file with one JSON list of ids per line, as <c>harvest</c> writes and reads;</item>
/// <item>a <c>.safetensors</c> file (tensor 'tokens', or its only tensor) or a <c>.npy</c> file, 1-D or 2-D integer;</item>
/// <item>ids on the command line: <c>"3,5,113"</c>, or sequences separated by ';' (<c>"1,2;3,4"</c>).</item>
/// </list>
/// A command asks for the form it needs: <see cref="Sequences"/> (any lengths, cut at the context) to run a model over
/// text-like input, or <see cref="Matrix"/> ([batch, seq_len]) where rows map to positions.
/// </summary>
public sealed class TokenArgument
{
    TokenArgument(string option, string value)
    {
        Option = option;
        Value = value;
    }

    /// <summary>The option's name, without dashes, for messages.</summary>
    public string Option { get; }

    /// <summary>The value as given.</summary>
    public string Value { get; }

    public const string Forms = ".jsonl (one JSON list of ids per line), .safetensors/.npy (integer [batch, seq_len]), or ids: \"3,5,113\", \"1,2;3,4\"";

    /// <summary>The option's value when it was given.</summary>
    public static TokenArgument? Get(ParsedArguments args, string option = "tokens") =>
        args.Get(option) is { } value ? new TokenArgument(option, value) : null;

    bool IsTensorFile => Value.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || Value.EndsWith(".npy", StringComparison.OrdinalIgnoreCase);

    bool IsJsonl => Value.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || Value.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Sequences of at most <paramref name="context"/> ids, every id below <paramref name="vocabSize"/>: a JSONL line or a
    /// tensor row longer than the context is cut into consecutive sequences.
    /// </summary>
    public TokenSequences Sequences(int vocabSize, int context)
    {
        if (IsJsonl) return TokenSequences.ReadJsonl(Value, vocabSize, context);
        if (IsTensorFile) return TokenSequences.ReadTensorFile(Value, vocabSize, context);
        using var matrix = Read();
        var rows = new List<long[]>();
        var ids = matrix.data<long>().ToArray();
        int length = (int)matrix.shape[1];
        for (int r = 0; r < matrix.shape[0]; r++)
        {
            var row = ids.AsSpan(r * length, length).ToArray();
            if (row.FirstOrDefault(id => id >= vocabSize, -1) is var bad and >= 0)
                throw new MechanistInputException($"--{Option} {Value}: token id {bad} in sequence {r + 1} is outside the model's vocabulary [0, {vocabSize}).");
            for (int start = 0; start < row.Length; start += context) rows.Add(row[start..Math.Min(row.Length, start + context)]);
        }
        return TokenSequences.FromSequences(Value, rows);
    }

    /// <summary>
    /// Token ids [batch, seq_len] (int64), every sequence as long as the first. A JSONL file is read against the
    /// model's vocabulary and context when <paramref name="model"/> is a language model.
    /// </summary>
    public Tensor Matrix(ILanguageModel? model = null)
    {
        if (!IsJsonl) return Read();
        var sequences = TokenSequences.ReadJsonl(Value, model?.VocabSize ?? int.MaxValue, model?.ContextLength ?? int.MaxValue);
        int length = sequences.Sequences[0].Length;
        for (int i = 1; i < sequences.Sequences.Count; i++)
            if (sequences.Sequences[i].Length != length)
                throw new MechanistInputException(
                    $"--{Option} {Value}: sequence {i + 1} has {sequences.Sequences[i].Length} tokens but the first has {length}; rows map to positions here, so every sequence must have the same length.");
        return tensor(sequences.Sequences.SelectMany(s => s).ToArray()).view(sequences.Sequences.Count, length);
    }

    /// <summary>A tensor file or ids on the command line, as [batch, seq_len] int64.</summary>
    Tensor Read()
    {
        Tensor t;
        if (File.Exists(Value)) t = TensorArguments.Read(Option, Value, "tokens");
        else if (Value.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || Value.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            throw new MechanistInputException($"--{Option} {Value}: file not found.");
        else
        {
            var rows = Value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var parsed = rows.Select(r => r.Split(',', StringSplitOptions.TrimEntries).Select(x =>
                long.TryParse(x, NumberStyles.Integer, CultureInfo.InvariantCulture, out var id) && id >= 0 ? id
                    : throw new MechanistInputException($"--{Option}: '{x}' is not a token id (non-negative integer); expected e.g. \"3,5,113\" or \"1,2;3,4\" or a file ({Forms}).")).ToArray()).ToArray();
            if (parsed.Length == 0) throw new MechanistInputException($"--{Option}: no token ids given.");
            if (parsed.Any(r => r.Length != parsed[0].Length))
                throw new MechanistInputException($"--{Option}: sequences separated by ';' must have the same length.");
            t = tensor(parsed.SelectMany(r => r).ToArray()).view(parsed.Length, parsed[0].Length);
        }
        if (t.is_floating_point() || t.dtype == ScalarType.Bool)
            throw new MechanistInputException($"--{Option} {Value}: token ids must be integers, got {t.dtype}.");
        if (t.ndim == 1) t = t.unsqueeze(0);
        if (t.ndim != 2 || t.numel() == 0)
            throw new MechanistInputException($"--{Option} {Value}: expected token ids [batch, seq_len], got shape [{string.Join(", ", t.shape)}].");
        if (t.lt(0).any().item<bool>())
            throw new MechanistInputException($"--{Option} {Value}: token ids must be non-negative.");
        return t.to(ScalarType.Int64);
    }
}
