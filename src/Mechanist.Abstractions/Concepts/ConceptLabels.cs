using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.IO;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Concepts;

/// <summary>
/// One concept's label for every token (activation row): a class index in [0, <see cref="Classes"/>.Count), row-major
/// over the sequences the activations were harvested from (row r = sequence r / seq_len, position r % seq_len).
/// </summary>
public sealed record Concept(string Name, long[] Labels, IReadOnlyList<string> Classes)
{
    public long Rows => Labels.LongLength;

    /// <summary>How many rows carry each class.</summary>
    public long[] ClassCounts()
    {
        var counts = new long[Classes.Count];
        foreach (var l in Labels) counts[l]++;
        return counts;
    }

    /// <summary>The class index of <paramref name="name"/> (a class name, or its index as text); an input error naming the classes otherwise.</summary>
    public int ClassIndex(string name)
    {
        for (int i = 0; i < Classes.Count; i++)
            if (Classes[i] == name) return i;
        if (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < Classes.Count) return index;
        var closest = NameSuggester.Closest(name, Classes);
        throw new MechanistInputException(
            $"concept '{Name}' has no class '{name}' (classes: {string.Join(", ", Classes)}).{(closest is null ? "" : $" Did you mean '{closest}'?")}");
    }

    /// <summary>Throws an input error unless at least two classes occur (a probe needs something to separate).</summary>
    public void RequireTwoClasses(string source)
    {
        var present = ClassCounts().Count(c => c > 0);
        if (present < 2)
            throw new MechanistInputException(
                $"{source}: concept '{Name}' has only one class in its {Rows} labels ('{Classes[Array.FindIndex(ClassCounts(), c => c > 0)]}'); a probe needs at least two classes to separate.");
    }

    /// <summary>The same concept with its labels permuted by <paramref name="seed"/>: a control that keeps the class balance and destroys the meaning.</summary>
    public Concept Shuffled(int seed)
    {
        var labels = (long[])Labels.Clone();
        var rng = new Random(seed);
        for (long i = labels.LongLength - 1; i > 0; i--)
        {
            long j = rng.NextInt64(i + 1);
            (labels[i], labels[j]) = (labels[j], labels[i]);
        }
        return this with { Name = Name + " (shuffled)", Labels = labels };
    }
}

/// <summary>
/// Concept labels for the tokens of a data set, read from a <c>.safetensors</c> file: one integer tensor
/// <c>concept.NAME</c> per concept, [n_sequences, seq_len] (or [N]), all of one shape, with the class names in the
/// metadata key <c>concept.NAME.classes</c> (a JSON list; "0", "1", … when absent). The file may hold the
/// <c>tokens</c> [n_sequences, seq_len] the labels describe, so one file is both the data set and its truth.
/// </summary>
public sealed class ConceptLabels
{
    public const string Prefix = "concept.";
    public const string Format = "mechanist.concepts.v1";

    ConceptLabels(string source, long[] shape, IReadOnlyDictionary<string, Concept> concepts, Tensor? tokens)
    {
        Source = source;
        Shape = shape;
        _concepts = concepts;
        Tokens = tokens;
    }

    readonly IReadOnlyDictionary<string, Concept> _concepts;

    /// <summary>The file the labels came from, for messages.</summary>
    public string Source { get; }

    /// <summary>The labels' shape: [n_sequences, seq_len], or [N] for rows without sequences.</summary>
    public long[] Shape { get; }

    public long Rows => Shape.Aggregate(1L, (a, b) => a * b);

    public IReadOnlyList<string> Names => _concepts.Keys.Order(StringComparer.Ordinal).ToList();

    /// <summary>The token ids [n_sequences, seq_len] stored with the labels, when the file holds them (int64).</summary>
    public Tensor? Tokens { get; }

    /// <summary>A concept by name; an unknown name is an input error that names the closest one.</summary>
    public Concept this[string name] => _concepts.TryGetValue(name, out var c) ? c
        : throw new MechanistInputException(
            $"{Source}: no concept '{name}' (concepts: {string.Join(", ", Names)}).{(NameSuggester.Closest(name, Names) is { } closest ? $" Did you mean '{closest}'?" : "")}");

    /// <summary>The concepts named (all when <paramref name="names"/> is empty), each checked to have two classes.</summary>
    public IReadOnlyList<Concept> Select(IReadOnlyList<string> names)
    {
        var chosen = (names.Count == 0 ? Names : names).Select(n => this[n]).ToList();
        foreach (var c in chosen) c.RequireTwoClasses(Source);
        return chosen;
    }

    /// <summary>Throws an input error unless the labels cover exactly <paramref name="rows"/> activation rows of <paramref name="what"/>.</summary>
    public void RequireRows(long rows, string what)
    {
        if (Rows != rows)
            throw new MechanistInputException(
                $"{Source}: the concept labels have shape [{string.Join(", ", Shape)}] ({Rows} labels) but {what} has {rows} rows; labels and activations must describe the same tokens, one label per row.");
    }

    /// <summary>Labels built in memory (tests, generators).</summary>
    public static ConceptLabels Create(string source, long[] shape, IEnumerable<Concept> concepts, Tensor? tokens = null)
    {
        var dict = new Dictionary<string, Concept>(StringComparer.Ordinal);
        long rows = shape.Aggregate(1L, (a, b) => a * b);
        foreach (var c in concepts)
        {
            if (c.Rows != rows)
                throw new MechanistInputException($"{source}: concept '{c.Name}' has {c.Rows} labels; the shape [{string.Join(", ", shape)}] needs {rows}.");
            if (c.Labels.Any(l => l < 0 || l >= c.Classes.Count))
                throw new MechanistInputException($"{source}: concept '{c.Name}' has a label outside its {c.Classes.Count} classes.");
            if (!dict.TryAdd(c.Name, c)) throw new MechanistInputException($"{source}: concept '{c.Name}' is given twice.");
        }
        if (dict.Count == 0) throw new MechanistInputException($"{source}: no concepts.");
        return new ConceptLabels(source, shape, dict, tokens);
    }

    /// <summary>Reads a labels file (see the class summary); every problem is an input error naming the file and the tensor or key.</summary>
    public static ConceptLabels Load(string path)
    {
        var header = Safetensors.ReadHeader(path);
        var names = header.Entries.Keys.Where(k => k.StartsWith(Prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        if (names.Count == 0)
            throw new MechanistInputException(
                $"{path}: no concept labels (expected integer tensors named '{Prefix}NAME', found: {(header.Entries.Count == 0 ? "none" : string.Join(", ", header.Entries.Keys.Order()))}).");
        long[]? shape = null;
        var concepts = new List<Concept>();
        foreach (var key in names)
        {
            var entry = header.Entries[key];
            if (entry.DType is not ("I64" or "I32" or "I16" or "I8" or "U8"))
                throw new MechanistInputException($"{path}: tensor '{key}' has dtype {entry.DType}; concept labels are integer class indices.");
            if (entry.Shape.Length is not (1 or 2) || entry.ElementCount == 0)
                throw new MechanistInputException($"{path}: tensor '{key}' has shape [{string.Join(", ", entry.Shape)}]; expected [n_sequences, seq_len] or [N], not empty.");
            if (shape is null) shape = entry.Shape;
            else if (!shape.SequenceEqual(entry.Shape))
                throw new MechanistInputException(
                    $"{path}: tensor '{key}' has shape [{string.Join(", ", entry.Shape)}] but '{names[0]}' has [{string.Join(", ", shape)}]; every concept labels the same tokens.");
            using var t = Safetensors.ReadTensor(header, key);
            var labels = t.to(ScalarType.Int64).reshape(-1).data<long>().ToArray();
            var name = key[Prefix.Length..];
            long max = labels.Max(), min = labels.Min();
            IReadOnlyList<string> classes;
            if (header.Metadata.TryGetValue($"{key}.classes", out var text))
            {
                classes = ParseClasses(path, key, text);
                if (max >= classes.Count)
                    throw new MechanistInputException($"{path}: tensor '{key}' has label {max} but '{key}.classes' names {classes.Count} classes.");
            }
            else classes = Enumerable.Range(0, (int)max + 1).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToList();
            if (min < 0) throw new MechanistInputException($"{path}: tensor '{key}' has a negative label ({min}); labels are class indices 0, 1, ….");
            concepts.Add(new Concept(name, labels, classes));
        }
        Tensor? tokens = null;
        if (header.Entries.TryGetValue("tokens", out var tokenEntry))
        {
            if (!tokenEntry.Shape.SequenceEqual(shape!))
                throw new MechanistInputException(
                    $"{path}: tensor 'tokens' has shape [{string.Join(", ", tokenEntry.Shape)}] but the labels have [{string.Join(", ", shape!)}].");
            tokens = Safetensors.ReadTensor(header, "tokens").to(ScalarType.Int64);
        }
        return Create(path, shape!, concepts, tokens);
    }

    static List<string> ParseClasses(string path, string key, string text)
    {
        try
        {
            if (JsonNode.Parse(text) is JsonArray a && a.All(n => n is JsonValue v && v.TryGetValue<string>(out _)))
            {
                var list = a.Select(n => n!.GetValue<string>()).ToList();
                if (list.Distinct().Count() == list.Count && list.Count > 0) return list;
            }
        }
        catch (JsonException) { }
        throw new MechanistInputException($"{path}: metadata '{key}.classes' must be a JSON list of distinct class names, got {text}.");
    }

    /// <summary>
    /// Writes labels (U8 when a concept has at most 256 classes, else I64) and optional tokens (I64) in the format
    /// <see cref="Load"/> reads, atomically.
    /// </summary>
    public static void Save(string path, long[] shape, IEnumerable<Concept> concepts, Tensor? tokens = null, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var tensors = new Dictionary<string, Tensor>();
        var meta = new Dictionary<string, string> { ["format"] = Format };
        if (metadata is not null) foreach (var (k, v) in metadata) meta[k] = v;
        using var scope = NewDisposeScope();
        foreach (var c in concepts)
        {
            var labels = tensor(c.Labels).view(shape);
            tensors[Prefix + c.Name] = c.Classes.Count <= 256 ? labels.to(ScalarType.Byte) : labels;
            meta[$"{Prefix}{c.Name}.classes"] = new JsonArray(c.Classes.Select(n => (JsonNode?)JsonValue.Create(n)).ToArray()).ToJsonString();
        }
        if (tokens is not null) tensors["tokens"] = tokens.to(ScalarType.Int64).view(shape);
        Safetensors.Write(path, tensors, meta);
    }
}
