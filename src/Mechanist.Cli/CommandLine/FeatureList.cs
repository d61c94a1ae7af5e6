using System.Globalization;

namespace Mechanist.Cli.CommandLine;

/// <summary>The value of <c>--features</c> (<c>interpret</c>, <c>report</c>): indices and ranges of a decomposition's features.</summary>
public static class FeatureList
{
    /// <summary>Feature indices from <c>"0,5,17"</c> or ranges <c>"0-31"</c>, each below <paramref name="dSae"/>, without repeats.</summary>
    public static IReadOnlyList<int> Parse(string text, int dSae)
    {
        var result = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var bounds = part.Split('-');
            bool ok = bounds.Length is 1 or 2 && bounds.All(b => int.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out _));
            if (!ok) throw new UsageException($"--features: '{part}' is not a feature index or range (e.g. \"0,5,17\" or \"0-31\").");
            int lo = int.Parse(bounds[0], CultureInfo.InvariantCulture), hi = int.Parse(bounds[^1], CultureInfo.InvariantCulture);
            if (hi < lo) throw new UsageException($"--features: range '{part}' is empty.");
            for (int f = lo; f <= hi; f++)
            {
                if (f >= dSae) throw new MechanistInputException($"--features: feature {f} is out of range: the decomposition has {dSae} features (0 … {dSae - 1}).");
                result.Add(f);
            }
        }
        return result.Distinct().ToList();
    }
}
