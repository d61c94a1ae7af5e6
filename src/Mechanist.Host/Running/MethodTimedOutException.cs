using Mechanist.Host.Checks;
using Mechanist.Host.Discovery;
using Mechanist.Validators;

namespace Mechanist.Host.Running;

/// <summary>
/// A method run exceeded its time budget (MECH0005). <see cref="Stopped"/>: whether it stopped when asked (its
/// cancellation token); a run that did not is left behind on its thread, and the check ends after it.
/// </summary>
public sealed class MethodTimedOutException(MethodEntry entry, TimeSpan budget, bool stopped)
    : Exception($"{entry.Kind.ToName()} '{entry.Id}' ({Origin(entry)}) did not finish within its time budget of {TimeBudgets.Format(budget)}")
{
    public MethodEntry Entry { get; } = entry;

    public TimeSpan Budget { get; } = budget;

    public bool Stopped { get; } = stopped;

    /// <summary>Where the method came from: built-in, or the plugin's assembly (its package and version when it came in one).</summary>
    public static string Origin(MethodEntry entry) => entry.IsBuiltIn ? "built-in" : $"plugin {entry.AssemblyName}, {entry.Origin}";

    public Finding ToFinding(Severity? severity = null) => Finding.Create(InfrastructureChecks.TimeBudgetExceeded,
        new FindingLocation(Path: Entry.Source, Method: Entry.Id),
        [Entry.Kind.ToName(), Entry.Id, Origin(Entry), TimeBudgets.Format(Budget),
         Stopped ? "it stopped when asked to, and the run went on"
                 : "it did not stop when asked to, so the check ended here with its report (raise the budget in 'timeouts' or with --timeout if the method is only slow)"],
        severity: severity);
}

/// <summary>A method was not run because an earlier run exceeded its budget and did not stop (<see cref="MethodRunner.Hung"/>).</summary>
public sealed class MethodNotRunException(MethodEntry entry, MethodTimedOutException hung)
    : Exception($"{entry.Kind.ToName()} '{entry.Id}' was not run: {hung.Entry.Kind.ToName()} '{hung.Entry.Id}' exceeded its time budget and did not stop (MECH0005)")
{
    public MethodEntry Entry { get; } = entry;

    public MethodTimedOutException Hung { get; } = hung;

    /// <summary>MECH0013: the method could not run, naming the run that hung.</summary>
    public Finding ToFinding(Severity? severity = null) => Finding.Create(ValidatorChecks.CouldNotRun,
        new FindingLocation(Path: Entry.Source, Method: Entry.Id),
        [$"{Entry.Kind.ToName()} '{Entry.Id}'", $"the check ended after {Hung.Entry.Kind.ToName()} '{Hung.Entry.Id}' exceeded its time budget of {TimeBudgets.Format(Hung.Budget)} and did not stop (MECH0005)"],
        severity: severity);
}
