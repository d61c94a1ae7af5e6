namespace Mechanist.Methods.Concepts;

/// <summary>
/// A seeded split of activation rows into training and held-out rows by whole sequences (so no held-out token
/// shares a context with a training one), or by rows when there are no sequences.
/// </summary>
public sealed record RowSplit(long[] Train, long[] Test)
{
    /// <summary>
    /// <paramref name="nSequences"/> × <paramref name="seqLen"/> rows; a seeded permutation sends
    /// round(test_fraction · n_seq) sequences (at least one, at most n_seq − 1) to the held-out side.
    /// </summary>
    public static RowSplit BySequence(long nSequences, long seqLen, double testFraction, int seed)
    {
        if (nSequences < 2)
            throw new MechanistInputException($"a held-out split needs at least two sequences, got {nSequences}.");
        if (!(testFraction > 0 && testFraction < 1))
            throw new MechanistInputException($"test_fraction must be in (0, 1), got {testFraction}.");
        var order = Permutation(nSequences, seed);
        long nTest = Math.Clamp((long)Math.Round(testFraction * nSequences), 1, nSequences - 1);
        var testSeq = order.Take((int)nTest).Order().ToArray();
        var trainSeq = order.Skip((int)nTest).Order().ToArray();
        long[] Rows(long[] seqs) => seqs.SelectMany(s => Enumerable.Range(0, (int)seqLen).Select(p => s * seqLen + p)).ToArray();
        return new RowSplit(Rows(trainSeq), Rows(testSeq));
    }

    /// <summary>A seeded permutation of 0 … n − 1 (Fisher–Yates with System.Random).</summary>
    public static long[] Permutation(long n, int seed)
    {
        var a = new long[n];
        for (long i = 0; i < n; i++) a[i] = i;
        var rng = new Random(seed);
        for (long i = n - 1; i > 0; i--)
        {
            long j = rng.NextInt64(i + 1);
            (a[i], a[j]) = (a[j], a[i]);
        }
        return a;
    }

    /// <summary>
    /// A balanced binary sample of <paramref name="rows"/>: as many rows with indicator 0 as with 1 (at most
    /// <paramref name="maxRows"/> in all), drawn with <paramref name="seed"/>, in row order, with their 0/1 labels.
    /// </summary>
    public static (long[] Rows, long[] Labels) Balanced(long[] rows, long[] indicator, int maxRows, int seed)
    {
        var rng = new Random(seed);
        var positives = rows.Where(r => indicator[r] == 1).OrderBy(_ => rng.Next()).ToArray();
        var negatives = rows.Where(r => indicator[r] == 0).OrderBy(_ => rng.Next()).ToArray();
        int each = Math.Min(Math.Min(positives.Length, negatives.Length), Math.Max(1, maxRows / 2));
        var chosen = positives.Take(each).Select(r => (Row: r, Label: 1L)).Concat(negatives.Take(each).Select(r => (Row: r, Label: 0L)))
            .OrderBy(p => p.Row).ToArray();
        return (chosen.Select(p => p.Row).ToArray(), chosen.Select(p => p.Label).ToArray());
    }
}
