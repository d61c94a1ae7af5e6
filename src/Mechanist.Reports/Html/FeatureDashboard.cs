namespace Mechanist.Reports.Html;

/// <summary>
/// What a feature dashboard shows about one decomposition: a card per feature, the facts about where the data came
/// from, and the gaps (what could not be shown and why). Built by <see cref="FeatureDashboards"/>, drawn by
/// <see cref="DashboardPage"/> (and inside the check report by <see cref="CheckReportPage"/>).
/// </summary>
public sealed record FeatureDashboard
{
    /// <summary>Names the dashboard in a page holding several (the decomposition's name in a check); anchors use it.</summary>
    public string Key { get; init; } = "";

    public required string Title { get; init; }

    /// <summary>Label → value lines shown under the title (decomposition folder, site, model, rows, …).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Facts { get; init; } = [];

    /// <summary>What is missing and why (no activations, no tokens, no tokenizer, no unembedding, no check).</summary>
    public IReadOnlyList<string> Gaps { get; init; } = [];

    public required IReadOnlyList<FeatureCard> Features { get; init; }

    /// <summary>Total features of the decomposition (the dashboard may show a subset).</summary>
    public int DSae { get; init; }

    /// <summary>Activation rows the statistics were measured on (0 when none).</summary>
    public long Rows { get; init; }

    /// <summary>Findings of a check about this decomposition that name no feature.</summary>
    public IReadOnlyList<FindingView> Findings { get; init; } = [];

    /// <summary>The anchor of a feature's card in the page: <c>feature-12</c>, or <c>feature-resid-12</c> with a key.</summary>
    public static string Anchor(string key, int feature) => key.Length == 0 ? $"feature-{feature}" : $"feature-{Slug(key)}-{feature}";

    /// <summary>Letters, digits, '-', '_' and '.' kept, everything else '_': safe in an id and a URL fragment.</summary>
    public static string Slug(string key) => string.Concat(key.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
}

/// <summary>One feature's card: statistics, histogram, examples, output effects, findings.</summary>
public sealed record FeatureCard
{
    public required int Index { get; init; }

    /// <summary>The interpreters' one-line summaries.</summary>
    public IReadOnlyList<string> Summaries { get; init; } = [];

    /// <summary>Fraction of rows where the feature is non-zero; null without activations.</summary>
    public double? Frequency { get; init; }

    public long? ActiveCount { get; init; }
    public double? MaxActivation { get; init; }
    public double? MeanActiveActivation { get; init; }

    /// <summary>Counts of positive activations in equal bins on (0, <see cref="MaxActivation"/>].</summary>
    public IReadOnlyList<long>? Histogram { get; init; }

    public IReadOnlyList<Example> Top { get; init; } = [];
    public IReadOnlyList<QuantileBand> Quantiles { get; init; } = [];
    public OutputEffectsView? OutputEffects { get; init; }
    public IReadOnlyList<FindingView> Findings { get; init; } = [];
}

/// <summary>
/// An activation row: its value and, with tokens, the context window — each token's text (or <c>#id</c>) and the
/// feature's activation on it, <see cref="Focus"/> marking the row itself.
/// </summary>
public sealed record Example(long Row, double Activation, IReadOnlyList<TokenCell>? Window = null, int Focus = 0, long? Sequence = null, long? Position = null);

public sealed record TokenCell(long Id, string? Text, double Activation);

public sealed record QuantileBand(int Quantile, double Low, double High, long Count, IReadOnlyList<Example> Samples);

public sealed record OutputEffectsView(double? DecoderNorm, IReadOnlyList<TokenEffect> Promoted, IReadOnlyList<TokenEffect> Suppressed, string? Definition);

public sealed record TokenEffect(long Id, string? Text, double Effect);

/// <summary>
/// A finding as a report shows it. <see cref="Baseline"/> is a SARIF <c>baselineState</c> (new, unchanged, updated,
/// absent) when the run compared against a baseline; null otherwise.
/// </summary>
public sealed record FindingView(string Id, string Severity, string Message, string? Title = null, string? Help = null, string? Baseline = null,
    double? Value = null, double? Threshold = null);
