namespace Mechanist.Host.Running;

/// <summary>
/// How long one run of a method may take: a default for every method and overrides by method ID (<c>timeouts</c> in
/// <c>mechanist.json</c>, <c>--timeout</c> on the command line). A run that exceeds its budget is reported as MECH0005.
/// </summary>
public sealed record TimeBudgets(TimeSpan? Default, IReadOnlyDictionary<string, TimeSpan> PerMethod)
{
    /// <summary>The default budget of <c>mechanist check</c>: ten minutes per method run.</summary>
    public static readonly TimeSpan CheckDefault = TimeSpan.FromMinutes(10);

    /// <summary>No budget: every run may take as long as it takes, on the calling thread.</summary>
    public static readonly TimeBudgets None = new(null, new Dictionary<string, TimeSpan>());

    /// <summary>The budget of a run of <paramref name="methodId"/>, or null for none.</summary>
    public TimeSpan? For(string methodId) => PerMethod.TryGetValue(methodId, out var t) ? t : Default;

    /// <summary>How long a run that exceeded <paramref name="budget"/> is given to stop once asked: a tenth of it, between 1 and 10 s.</summary>
    public static TimeSpan Grace(TimeSpan budget) =>
        TimeSpan.FromSeconds(Math.Clamp(budget.TotalSeconds / 10, 1, 10));

    /// <summary>Seconds as reports print them (<c>0.5 s</c>, <c>600 s</c>).</summary>
    public static string Format(TimeSpan t) => $"{t.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s";
}
