namespace Mechanist.Options;

/// <summary>Finds the closest valid name for an unknown one (edit distance), for "did you mean" hints.</summary>
public static class NameSuggester
{
    /// <summary>Names longer than this get no suggestion (a typo of a real key is short; comparing a megabyte-long key from a damaged file would cost seconds).</summary>
    public const int MaxNameLength = 256;

    /// <summary>The candidate closest to <paramref name="name"/>, or null when none is reasonably close.</summary>
    public static string? Closest(string name, IEnumerable<string> candidates)
    {
        if (name.Length > MaxNameLength) return null;
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var c in candidates)
        {
            if (c.Length > MaxNameLength) continue;
            int d = Distance(name.ToLowerInvariant(), c.ToLowerInvariant());
            if (d < bestDistance) { best = c; bestDistance = d; }
        }
        if (best is null) return null;
        bool contains = best.Contains(name, StringComparison.OrdinalIgnoreCase) || name.Contains(best, StringComparison.OrdinalIgnoreCase);
        return contains || bestDistance <= Math.Max(2, Math.Max(name.Length, best.Length) / 2) ? best : null;
    }

    /// <summary>Optimal string alignment distance (Levenshtein with adjacent transpositions).</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        for (int j = 1; j <= b.Length; j++)
        {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
        }
        return d[a.Length, b.Length];
    }
}
