using System.Text.Json.Nodes;
using Mechanist.Host.Configuration;
using Mechanist.Validators;

namespace Mechanist.Host.Gate;

/// <summary>
/// A finding of a check run with where it belongs in the configuration: the config file's line and column of the
/// decomposition or validation it came from, and the names that locate it.
/// </summary>
public sealed record ReportedFinding(Finding Finding, int Line, int Column, string? Decomposition = null, string? Validation = null)
{
    public string Id => Finding.Id;
    public Severity Severity => Finding.Severity;

    /// <summary>The behaviour the finding is about, when its validation names one.</summary>
    public string? Behaviour { get; init; }

    /// <summary>Compared with the baseline: new, unchanged, updated (same place, another value), or absent; null without a baseline.</summary>
    public string? BaselineState { get; init; }

    /// <summary>The severity before <c>--fail-on new</c> lowered an error that the baseline already had.</summary>
    public Severity? DemotedFrom { get; init; }

    /// <summary>The identity of the finding across runs: check, validation, decomposition, behaviour, site and feature.</summary>
    public string Key => MeasuredValue.KeyOf(Id, Validation, Decomposition, Behaviour, Finding.Location.Site, Finding.Location.Feature);
}

/// <summary>A measured value of a check, with the names that place it in the configuration (what a baseline records).</summary>
public sealed record MeasuredValue(string Check, string? Validation, string? Decomposition, string? Behaviour, string? Site, int? Feature, double Value)
{
    public string Key => KeyOf(Check, Validation, Decomposition, Behaviour, Site, Feature);

    /// <summary>The order of a baseline file: by check, validation, decomposition, behaviour, site, then feature as a number (aggregates first).</summary>
    public static IComparer<(string Check, string? Validation, string? Decomposition, string? Behaviour, string? Site, int? Feature)> Order { get; } =
        Comparer<(string Check, string? Validation, string? Decomposition, string? Behaviour, string? Site, int? Feature)>.Create((a, b) =>
        {
            int c = string.CompareOrdinal(a.Check, b.Check);
            if (c == 0) c = string.CompareOrdinal(a.Validation, b.Validation);
            if (c == 0) c = string.CompareOrdinal(a.Decomposition, b.Decomposition);
            if (c == 0) c = string.CompareOrdinal(a.Behaviour, b.Behaviour);
            if (c == 0) c = string.CompareOrdinal(a.Site, b.Site);
            if (c == 0) c = (a.Feature ?? -1).CompareTo(b.Feature ?? -1);
            return c;
        });

    public static string KeyOf(string check, string? validation, string? decomposition, string? behaviour, string? site, int? feature) =>
        $"{check}|{validation}|{decomposition}|{behaviour}|{site}|{feature}";
}

/// <summary>One activation harvest of the run: where, how many rows, and whether the cache already had it.</summary>
public sealed record HarvestRecord(string Decomposition, string Site, string Key, long Rows, bool Reused, double Seconds);

/// <summary>One method run of the check (a validation on one decomposition, an attribution, a training): what and how long.</summary>
public sealed record MethodRunRecord(string Kind, string Method, string? Decomposition, string? Behaviour, double Seconds);

/// <summary>A line a method logged during the run, with where it came from.</summary>
public sealed record LogEntry(string Level, string Source, string Message);

/// <summary>Everything a check run produced: findings, the checks that ran, the files it read, and its timing.</summary>
public sealed record CheckResult
{
    public required CheckConfig Config { get; init; }

    /// <summary>The model folder the release is about, when there is one.</summary>
    public string? Model { get; init; }

    public required IReadOnlyList<ReportedFinding> Findings { get; init; }

    /// <summary>Findings of the baseline that this run no longer has (<c>baselineState: absent</c>).</summary>
    public IReadOnlyList<ReportedFinding> AbsentFindings { get; init; } = [];

    /// <summary>The descriptor of every check that ran (each validator's supported checks and the host's), by ID.</summary>
    public required IReadOnlyList<CheckDescriptor> Rules { get; init; }

    /// <summary>Where each rule's documentation page is, as an absolute URI.</summary>
    public required IReadOnlyDictionary<string, string> HelpUris { get; init; }

    /// <summary>The checks' overview page (<c>docs/checks/README.md</c>), resolved like the help links.</summary>
    public required string ToolInformationUri { get; init; }

    /// <summary>Every file the run read (for incremental builds), sorted.</summary>
    public required IReadOnlyList<string> Inputs { get; init; }

    /// <summary>Every file the run wrote or kept for later runs (harvest cache entries), sorted.</summary>
    public IReadOnlyList<string> Outputs { get; init; } = [];

    public required TimeSpan Elapsed { get; init; }

    /// <summary>The SAELens-layout folders of decompositions that were loaded, by decomposition name.</summary>
    public IReadOnlyDictionary<string, string> DecompositionFolders { get; init; } = new Dictionary<string, string>();

    /// <summary>Every value the validators measured, sorted by key.</summary>
    public IReadOnlyList<MeasuredValue> Measurements { get; init; } = [];

    /// <summary>Each <c>attributions</c> entry's result: method, behaviour, metric, completeness error, top scores.</summary>
    public IReadOnlyList<JsonObject> Attributions { get; init; } = [];

    /// <summary>What methods logged while they ran.</summary>
    public IReadOnlyList<LogEntry> Log { get; init; } = [];

    public IReadOnlyList<HarvestRecord> Harvests { get; init; } = [];

    /// <summary>Every method run (training, validation, attribution) with its wall time, in order.</summary>
    public IReadOnlyList<MethodRunRecord> Runs { get; init; } = [];

    /// <summary>The baseline file compared with, when one was read (or written with <c>--update-baseline</c>).</summary>
    public string? BaselinePath { get; init; }

    /// <summary>Whether this run wrote the baseline (<c>--update-baseline</c>).</summary>
    public bool BaselineUpdated { get; init; }

    /// <summary><c>all</c> (every error fails) or <c>new</c> (only errors the baseline does not have).</summary>
    public string FailOn { get; init; } = "all";

    public int Count(Severity severity) => Findings.Count(f => f.Severity == severity);

    public bool HasErrors => Findings.Any(f => f.Severity == Severity.Error);
}
