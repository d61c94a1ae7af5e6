using System.Security.Cryptography;
using Mechanist.Host.Configuration;
using Mechanist.IO;
using Mechanist.Models;
using Mechanist.Models.Text;
using static TorchSharp.torch;

namespace Mechanist.Host.Gate;

/// <summary>
/// Model inputs read from a <c>dataset</c> (or a behaviour's <c>inputs</c>): token sequences and, for a generated
/// task, the label of each at the task's answer position. Every id is checked against the model's vocabulary.
/// </summary>
public sealed class ModelInputs
{
    ModelInputs(string description, TokenSequences sequences, long[]? labels, int? answerPosition, Func<long[], long>? label)
    {
        Description = description;
        Sequences = sequences;
        Labels = labels;
        AnswerPosition = answerPosition;
        LabelOf = label;
    }

    /// <summary>Where the inputs came from, for reports (the file, or the task and its options).</summary>
    public string Description { get; }

    public TokenSequences Sequences { get; }

    /// <summary>For a task: the label of each sequence at <see cref="AnswerPosition"/>.</summary>
    public long[]? Labels { get; }

    public int? AnswerPosition { get; }

    /// <summary>For a task: labels any input of its form (used for corrupted inputs).</summary>
    public Func<long[], long>? LabelOf { get; }

    public int Count => Sequences.Sequences.Count;

    /// <summary>Whether every sequence has the same length (then <see cref="ToTensor"/> works).</summary>
    public bool Uniform => Sequences.Sequences.Select(s => s.Length).Distinct().Count() == 1;

    /// <summary>The sequences as int64 [n, T] on <paramref name="device"/>; an input error names <paramref name="what"/> when their lengths differ.</summary>
    public Tensor ToTensor(Device device, string what)
    {
        if (!Uniform)
            throw new MechanistInputException(
                $"{what}: the sequences of {Description} have different lengths ({string.Join(", ", Sequences.Sequences.Select(s => s.Length).Distinct().Order().Take(5))}); a behaviour needs inputs of one length.");
        var rows = Sequences.Sequences;
        return tensor(rows.SelectMany(s => s).ToArray(), [rows.Count, rows[0].Length], device: device);
    }

    /// <summary>SHA-256 of the token ids (and their sequence boundaries): the dataset's part of a harvest's cache key.</summary>
    public string ContentHash()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> buffer = stackalloc byte[8];
        foreach (var s in Sequences.Sequences)
        {
            BitConverter.TryWriteBytes(buffer, (long)s.Length);
            hash.AppendData(buffer);
            foreach (var id in s)
            {
                BitConverter.TryWriteBytes(buffer, id);
                hash.AppendData(buffer);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Reads <paramref name="dataset"/> for <paramref name="model"/>: a JSONL token file, an integer tensor in a
    /// <c>.safetensors</c> or <c>.npy</c> file, a UTF-8 text file (GPT-2 BPE, cut into sequences of the context), or a
    /// generated task. Input errors name the file and what was expected.
    /// </summary>
    public static ModelInputs Load(DatasetConfig dataset, ILanguageModel model, int seed)
    {
        int context = dataset.Context ?? model.ContextLength;
        if (context > model.ContextLength)
            throw new MechanistInputException($"'context' {context} is longer than the model's {model.ContextLength} positions.");
        ModelInputs inputs;
        if (dataset.Task is { } task)
        {
            var generated = DatasetTasks.Generate(task, DatasetTasks.Bind(task, dataset.Options), model, seed);
            foreach (var s in generated.Sequences)
                if (s.Length > model.ContextLength || s.Any(id => id < 0 || id >= model.VocabSize))
                    throw new MechanistInputException($"task '{task}' generated an input [{string.Join(", ", s)}] that model '{model.ModelType}' does not take (vocabulary {model.VocabSize}, {model.ContextLength} positions).");
            inputs = new ModelInputs(generated.Description, TokenSequences.FromSequences($"task {task}", generated.Sequences),
                generated.Labels, generated.AnswerPosition, generated.Label);
        }
        else if (dataset.Text is { } text)
        {
            var sequences = TokenSequences.ReadText(text, model.VocabSize, context);
            inputs = new ModelInputs(text, sequences, null, null, null);
        }
        else
        {
            var path = dataset.Path!;
            var extension = Path.GetExtension(path).ToLowerInvariant();
            TokenSequences sequences = extension switch
            {
                ".jsonl" or ".json" => TokenSequences.ReadJsonl(path, model.VocabSize, context),
                ".safetensors" or ".npy" => FromTensorFile(path, dataset.Tensor, model.VocabSize, context),
                _ => throw new MechanistInputException(
                    $"{path}: unknown token file format '{extension}'; expected .jsonl (a JSON list of ids per line), .safetensors (an integer tensor [n, T]) or .npy. Raw text goes in 'text'."),
            };
            inputs = new ModelInputs(path, sequences, null, null, null);
        }
        if (dataset.Limit is int limit && limit < inputs.Count)
            inputs = new ModelInputs($"{inputs.Description}, the first {limit}", TokenSequences.FromSequences(inputs.Sequences.Source, inputs.Sequences.Sequences.Take(limit)),
                inputs.Labels?[..limit], inputs.AnswerPosition, inputs.LabelOf);
        return inputs;
    }

    static TokenSequences FromTensorFile(string path, string tensorName, int vocabSize, int context)
    {
        if (!File.Exists(path)) throw new MechanistInputException($"{path}: token file not found.");
        using var scope = NewDisposeScope();
        Tensor t;
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) t = Npy.Read(path);
        else
        {
            var header = Safetensors.ReadHeader(path);
            header.Require(tensorName);
            t = Safetensors.ReadTensor(header, tensorName);
        }
        if (t.is_floating_point() || t.dtype == ScalarType.Bool || t.ndim != 2)
            throw new MechanistInputException(
                $"{path}: tensor '{tensorName}' is {t.dtype} [{string.Join(", ", t.shape)}]; expected integer token ids [n_sequences, positions].");
        if (t.shape[0] == 0 || t.shape[1] == 0) throw new MechanistInputException($"{path}: tensor '{tensorName}' holds no tokens.");
        var ids = t.to(ScalarType.Int64).contiguous();
        long min = ids.min().item<long>(), max = ids.max().item<long>();
        if (min < 0 || max >= vocabSize)
            throw new MechanistInputException($"{path}: token id {(min < 0 ? min : max)} is outside the model's vocabulary [0, {vocabSize}).");
        var flat = ids.data<long>().ToArray();
        int length = (int)ids.shape[1];
        var sequences = new List<long[]>();
        for (int row = 0; row < ids.shape[0]; row++)
            for (int start = 0; start < length; start += context)
                sequences.Add(flat[(row * length + start)..(row * length + Math.Min(length, start + context))]);
        return TokenSequences.FromSequences(path, sequences);
    }
}
