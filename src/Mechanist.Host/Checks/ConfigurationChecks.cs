using Mechanist.Validators;

namespace Mechanist.Host.Checks;

/// <summary>
/// MECH001x: problems of a check's configuration (<c>mechanist.json</c>) and of the inputs it names. The host raises
/// MECH0010 and MECH0011 as input errors (exit code 2, nothing written), each with the line of the config it comes from;
/// the MSBuild task raises MECH0012.
/// </summary>
public static class ConfigurationChecks
{
    public static readonly CheckDescriptor InvalidConfiguration = new(
        "MECH0010", "Invalid check configuration",
        "{0}", "Infrastructure", Severity.Error, CheckDescriptor.DocPath("MECH0010"));

    public static readonly CheckDescriptor InputInvalid = new(
        "MECH0011", "Check input missing or invalid",
        "{0}", "Infrastructure", Severity.Error, CheckDescriptor.DocPath("MECH0011"));

    /// <summary>Reported by the MSBuild task (Mechanist.Build) when the CLI fails without reporting anything.</summary>
    public static readonly CheckDescriptor ToolFailed = new(
        "MECH0012", "The check tool failed",
        "mechanist check exited with code {0} without reporting a finding{1}", "Infrastructure", Severity.Error, CheckDescriptor.DocPath("MECH0012"));

    public static IReadOnlyList<CheckDescriptor> All { get; } = [InvalidConfiguration, InputInvalid, ToolFailed];
}
