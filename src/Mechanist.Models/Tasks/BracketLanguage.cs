using Mechanist.Concepts;
using static TorchSharp.torch;

namespace Mechanist.Models.Tasks;

/// <summary>
/// Settings of the bracket language: sequence length (the <c>&lt;bos&gt;</c> token included) and the deepest nesting.
/// </summary>
public sealed record BracketLanguageSettings(int Length = 48, int MaxDepth = 4)
{
    public void Validate()
    {
        if (Length < 2) throw new MechanistInputException($"--length must be at least 2 (<bos> and one token), got {Length}.");
        if (MaxDepth < 1 || MaxDepth > 16) throw new MechanistInputException($"--max-depth must be in [1, 16], got {MaxDepth}.");
    }
}

/// <summary>
/// Sequences of a generated language whose latent variables are known at every token: nested brackets of two
/// types, round <c>( )</c> and square <c>[ ]</c>, with filler tokens <c>a</c>, <c>b</c> between them (Dyck-2 with
/// bounded depth). A stack machine emits the tokens: after <c>&lt;bos&gt;</c>, at depth 0 it opens a bracket with
/// probability 0.4 (either type, equally) or emits a filler; below the maximum depth it opens (0.3), closes the
/// innermost open bracket (0.35) or emits a filler (0.35); at the maximum depth it closes (0.55) or emits a filler
/// (0.45). Fillers are a or b, equally. So the next-token distribution is a function of two latent variables —
/// the depth and the type of the innermost open bracket — and a model that predicts well must compute both.
/// </summary>
/// <remarks>
/// Concepts recorded per token (the state after reading it): <c>depth</c> (0 … max depth), <c>top</c> (the type
/// of the innermost open bracket: none, round, square) and <c>kind</c> (bos, open, close, filler — a function of
/// the token alone, found already in the embedding).
/// </remarks>
public static class BracketLanguage
{
    public const int Bos = 0, OpenRound = 1, CloseRound = 2, OpenSquare = 3, CloseSquare = 4, FillerA = 5, FillerB = 6;

    /// <summary>Token strings by id (written to a model folder's <c>vocab.json</c>).</summary>
    public static readonly IReadOnlyList<string> Vocabulary = ["<bos>", "(", ")", "[", "]", "a", "b"];

    public static int VocabSize => Vocabulary.Count;

    /// <summary>Class names of each recorded concept, by class index.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> ConceptClasses(int maxDepth) => new Dictionary<string, IReadOnlyList<string>>
    {
        ["depth"] = Enumerable.Range(0, maxDepth + 1).Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(),
        ["top"] = ["none", "round", "square"],
        ["kind"] = ["bos", "open", "close", "filler"],
    };

    public const int TopNone = 0, TopRound = 1, TopSquare = 2;
    public const int KindBos = 0, KindOpen = 1, KindClose = 2, KindFiller = 3;

    /// <summary>
    /// The generator's distribution of the next token given the state (depth, innermost open type), over
    /// <see cref="Vocabulary"/>: the distribution a perfect model predicts.
    /// </summary>
    public static double[] NextTokenDistribution(int depth, int top, int maxDepth)
    {
        var p = new double[VocabSize];
        double open, close, filler;
        if (depth == 0) (open, close, filler) = (0.4, 0.0, 0.6);
        else if (depth < maxDepth) (open, close, filler) = (0.3, 0.35, 0.35);
        else (open, close, filler) = (0.0, 0.55, 0.45);
        p[OpenRound] = p[OpenSquare] = open / 2;
        if (close > 0) p[top == TopSquare ? CloseSquare : CloseRound] = close;
        p[FillerA] = p[FillerB] = filler / 2;
        return p;
    }

    /// <summary>
    /// <paramref name="count"/> sequences of <see cref="BracketLanguageSettings.Length"/> tokens each (the first is
    /// <c>&lt;bos&gt;</c>), drawn with <paramref name="seed"/> (System.Random's seeded sequence, stable across .NET versions).
    /// </summary>
    public static long[][] Generate(int count, BracketLanguageSettings settings, int seed)
    {
        settings.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var rng = new Random(seed);
        var result = new long[count][];
        var stack = new Stack<int>();
        for (int s = 0; s < count; s++)
        {
            stack.Clear();
            var sequence = new long[settings.Length];
            sequence[0] = Bos;
            for (int i = 1; i < settings.Length; i++)
            {
                var p = NextTokenDistribution(stack.Count, stack.Count == 0 ? TopNone : stack.Peek(), settings.MaxDepth);
                double u = rng.NextDouble(), cumulative = 0;
                int token = VocabSize - 1;
                for (int t = 0; t < VocabSize; t++)
                {
                    cumulative += p[t];
                    if (u < cumulative && p[t] > 0) { token = t; break; }
                }
                switch (token)
                {
                    case OpenRound: stack.Push(TopRound); break;
                    case OpenSquare: stack.Push(TopSquare); break;
                    case CloseRound or CloseSquare: stack.Pop(); break;
                }
                sequence[i] = token;
            }
            result[s] = sequence;
        }
        return result;
    }

    /// <summary>
    /// The concepts of every token of <paramref name="sequences"/>, by parsing (independently of how they were
    /// generated): <c>depth</c>, <c>top</c> and <c>kind</c>, each [n_seq][len]. A sequence that is not in the
    /// language (a closing bracket that does not match, depth beyond the maximum, <c>&lt;bos&gt;</c> after the
    /// start) is an input error naming the sequence and position.
    /// </summary>
    public static IReadOnlyDictionary<string, long[][]> Concepts(IReadOnlyList<long[]> sequences, int maxDepth)
    {
        var depth = new long[sequences.Count][];
        var top = new long[sequences.Count][];
        var kind = new long[sequences.Count][];
        var stack = new Stack<int>();
        for (int s = 0; s < sequences.Count; s++)
        {
            var seq = sequences[s];
            depth[s] = new long[seq.Length];
            top[s] = new long[seq.Length];
            kind[s] = new long[seq.Length];
            stack.Clear();
            for (int i = 0; i < seq.Length; i++)
            {
                long t = seq[i];
                string Where() => $"sequence {s}, position {i}";
                switch (t)
                {
                    case Bos:
                        if (i != 0) throw new MechanistInputException($"{Where()}: <bos> is allowed only at the start.");
                        kind[s][i] = KindBos;
                        break;
                    case OpenRound or OpenSquare:
                        if (stack.Count == maxDepth) throw new MechanistInputException($"{Where()}: opening a bracket beyond the maximum depth {maxDepth}.");
                        stack.Push(t == OpenRound ? TopRound : TopSquare);
                        kind[s][i] = KindOpen;
                        break;
                    case CloseRound or CloseSquare:
                        int want = t == CloseRound ? TopRound : TopSquare;
                        if (stack.Count == 0 || stack.Peek() != want)
                            throw new MechanistInputException($"{Where()}: '{Vocabulary[(int)t]}' does not close the innermost open bracket.");
                        stack.Pop();
                        kind[s][i] = KindClose;
                        break;
                    case FillerA or FillerB:
                        kind[s][i] = KindFiller;
                        break;
                    default:
                        throw new MechanistInputException($"{Where()}: token id {t} is not in the bracket language's vocabulary of {VocabSize}.");
                }
                depth[s][i] = stack.Count;
                top[s][i] = stack.Count == 0 ? TopNone : stack.Peek();
            }
        }
        return new Dictionary<string, long[][]> { ["depth"] = depth, ["top"] = top, ["kind"] = kind };
    }

    /// <summary>
    /// The generator's cross-entropy floor on <paramref name="sequences"/>: the mean over predicted positions
    /// (every position but the last) of the entropy of <see cref="NextTokenDistribution"/> at that state, in nats.
    /// </summary>
    public static double EntropyFloor(IReadOnlyList<long[]> sequences, int maxDepth)
    {
        var concepts = Concepts(sequences, maxDepth);
        double sum = 0;
        long count = 0;
        for (int s = 0; s < sequences.Count; s++)
            for (int i = 0; i + 1 < sequences[s].Length; i++)
            {
                var p = NextTokenDistribution((int)concepts["depth"][s][i], (int)concepts["top"][s][i], maxDepth);
                sum -= p.Where(x => x > 0).Sum(x => x * Math.Log(x));
                count++;
            }
        return count == 0 ? 0 : sum / count;
    }

    /// <summary>
    /// Generates <paramref name="count"/> sequences and writes them with their per-token concept labels (depth, top,
    /// kind) as one concept-labels file, the settings and the vocabulary in its metadata.
    /// </summary>
    public static void WriteLabelled(string path, int count, BracketLanguageSettings settings, int seed)
    {
        var sequences = BracketLanguage.Generate(count, settings, seed);
        var concepts = BracketLanguage.Concepts(sequences, settings.MaxDepth);
        var classes = BracketLanguage.ConceptClasses(settings.MaxDepth);
        using var scope = NewDisposeScope();
        var tokens = tensor(sequences.SelectMany(s => s).ToArray()).view(count, settings.Length);
        ConceptLabels.Save(path, [count, settings.Length],
            concepts.Select(kv => new Concept(kv.Key, kv.Value.SelectMany(r => r).ToArray(), classes[kv.Key])), tokens,
            new Dictionary<string, string>
            {
                ["generator"] = "brackets", ["length"] = settings.Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["max_depth"] = settings.MaxDepth.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["seed"] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["vocabulary"] = System.Text.Json.JsonSerializer.Serialize(BracketLanguage.Vocabulary),
            });
    }
}
