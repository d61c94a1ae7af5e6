using Mechanist.Validators;

namespace Mechanist.Host.Checks;

/// <summary>MECH0xxx: problems of the machinery itself, reported as findings instead of crashes (like Roslyn's AD0001).</summary>
public static class InfrastructureChecks
{
    public static readonly CheckDescriptor MethodThrew = new(
        "MECH0001", "A method threw an exception",
        "{0} '{1}' threw {2}: {3}", "Infrastructure", Severity.Error, CheckDescriptor.DocPath("MECH0001"));

    public static readonly CheckDescriptor PluginLoadFailed = new(
        "MECH0002", "A plugin failed to load",
        "plugin '{0}' was not loaded: {1}", "Infrastructure", Severity.Warning, CheckDescriptor.DocPath("MECH0002"));

    public static readonly CheckDescriptor UnknownMethodOrCheck = new(
        "MECH0003", "Unknown method or check",
        "unknown {0} '{1}'{2}", "Infrastructure", Severity.Error, CheckDescriptor.DocPath("MECH0003"));

    /// <summary>Two methods with one ID (the later is ignored), or two validators declaring one check ID (the first declaration is kept).</summary>
    public static readonly CheckDescriptor DuplicateMethodId = new(
        "MECH0004", "Duplicate method or check ID",
        "{0} '{1}' from {2} is already defined by {3}; {4}", "Infrastructure", Severity.Warning,
        CheckDescriptor.DocPath("MECH0004"));

    /// <summary>A method run took longer than its time budget (<c>timeouts</c>, <c>--timeout</c>).</summary>
    public static readonly CheckDescriptor TimeBudgetExceeded = new(
        "MECH0005", "A method exceeded its time budget",
        "{0} '{1}' ({2}) did not finish within its time budget of {3}; {4}", "Infrastructure", Severity.Error,
        CheckDescriptor.DocPath("MECH0005"),
        "the wall-clock time of one run of the method (construction and its entry point) against its budget: 'timeouts' of mechanist.json (a method ID, else \"default\"), --timeout, else 600 s");

    /// <summary>A validator (or some of its checks) could not run on what it was given (reported by validators through their context).</summary>
    public static CheckDescriptor CouldNotRun => ValidatorChecks.CouldNotRun;

    public static IReadOnlyList<CheckDescriptor> All { get; } = [MethodThrew, PluginLoadFailed, UnknownMethodOrCheck, DuplicateMethodId, TimeBudgetExceeded, ValidatorChecks.CouldNotRun];
}
