using Mechanist.Concepts;

namespace Mechanist.Methods.Concepts;

/// <summary>What a control task's labels are a function of.</summary>
public enum ControlKey
{
    /// <summary>The token (word type), as in Hewitt and Liang (2019).</summary>
    Token,

    /// <summary>The pair (token, position): for small vocabularies, where the token alone is trivially decodable.</summary>
    TokenPosition,
}

/// <summary>
/// Control tasks (Hewitt &amp; Liang 2019, Designing and Interpreting Probes with Control Tasks): a task with the
/// concept's output space and class frequencies whose label is a random function of the token type — each distinct
/// key (the token, or the token and its position) gets one label drawn from the concept's empirical class
/// distribution. A probe can solve it only by memorising types, so accuracy on it measures the probe's capacity,
/// and selectivity = accuracy(concept) − accuracy(control) measures what the representation itself makes linear.
/// </summary>
public static class ControlTask
{
    /// <summary>
    /// The control labels of <paramref name="concept"/> for rows of <paramref name="tokens"/> (row-major, [n_seq · seq_len])
    /// with <paramref name="seqLen"/> positions per sequence.
    /// </summary>
    public static Concept Create(Concept concept, long[] tokens, long seqLen, ControlKey key, int seed)
    {
        if (tokens.LongLength != concept.Rows)
            throw new MechanistInputException(
                $"control task for '{concept.Name}': {tokens.LongLength} tokens but {concept.Rows} labels; the tokens must be the ones the labels describe.");
        var counts = concept.ClassCounts();
        double total = counts.Sum();
        var cumulative = new double[counts.Length];
        double running = 0;
        for (int c = 0; c < counts.Length; c++) { running += counts[c] / total; cumulative[c] = running; }
        var rng = new Random(seed);
        var assigned = new Dictionary<(long Token, long Position), long>();
        var labels = new long[tokens.LongLength];
        for (long r = 0; r < tokens.LongLength; r++)
        {
            var k = (tokens[r], key == ControlKey.TokenPosition ? r % seqLen : 0);
            if (!assigned.TryGetValue(k, out var label))
            {
                double u = rng.NextDouble();
                label = Array.FindIndex(cumulative, c => u < c);
                if (label < 0) label = counts.Length - 1;
                assigned[k] = label;
            }
            labels[r] = label;
        }
        return new Concept($"{concept.Name} (control: {(key == ControlKey.Token ? "token" : "token, position")})", labels, concept.Classes);
    }
}
