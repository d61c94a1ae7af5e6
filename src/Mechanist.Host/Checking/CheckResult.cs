using Mechanist.Host.Configuration;
using Mechanist.Validators;

namespace Mechanist.Host.Checking;

/// <summary>
/// A finding of a check run with where it belongs in the configuration: the config file's line and column of the
/// decomposition or validation it came from, and the names that locate it.
/// </summary>
public sealed record ReportedFinding(Finding Finding, int Line, int Column, string? Decomposition = null, string? Validation = null)
{
    public string Id => Finding.Id;
    public Severity Severity => Finding.Severity;
}

/// <summary>Everything a check run produced: findings, the checks that ran, the files it read, and its timing.</summary>
public sealed record CheckResult
{
    public required CheckConfig Config { get; init; }

    /// <summary>The model folder the release is about, when there is one.</summary>
    public string? Model { get; init; }

    public required IReadOnlyList<ReportedFinding> Findings { get; init; }

    /// <summary>The descriptor of every check that ran (each validator's supported checks and the host's), by ID.</summary>
    public required IReadOnlyList<CheckDescriptor> Rules { get; init; }

    /// <summary>Where each rule's documentation page is, as an absolute URI.</summary>
    public required IReadOnlyDictionary<string, string> HelpUris { get; init; }

    /// <summary>The checks' overview page (<c>docs/checks/README.md</c>), resolved like the help links.</summary>
    public required string ToolInformationUri { get; init; }

    /// <summary>Every file the run read (for incremental builds), sorted.</summary>
    public required IReadOnlyList<string> Inputs { get; init; }

    public required TimeSpan Elapsed { get; init; }

    /// <summary>The SAELens-layout folders of decompositions that were loaded, by decomposition name.</summary>
    public IReadOnlyDictionary<string, string> DecompositionFolders { get; init; } = new Dictionary<string, string>();

    public int Count(Severity severity) => Findings.Count(f => f.Severity == severity);

    public bool HasErrors => Findings.Any(f => f.Severity == Severity.Error);
}
