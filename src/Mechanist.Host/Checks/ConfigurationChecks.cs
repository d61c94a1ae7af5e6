using Mechanist.Validators;

namespace Mechanist.Host.Checks;

/// <summary>
/// MECH001x: problems of a check's configuration (<c>mechanist.json</c>) and of the inputs it names. The host raises
/// them as input errors (exit code 2, nothing written), each with the line of the config it comes from.
/// </summary>
public static class ConfigurationChecks
{
    public static readonly CheckDescriptor InvalidConfiguration = new(
        "MECH0010", "Invalid check configuration",
        "{0}", "Infrastructure", Severity.Error, CheckDescriptor.DocPath("MECH0010"));

    public static readonly CheckDescriptor InputInvalid = new(
        "MECH0011", "Check input missing or invalid",
        "{0}", "Infrastructure", Severity.Error, CheckDescriptor.DocPath("MECH0011"));

    public static IReadOnlyList<CheckDescriptor> All { get; } = [InvalidConfiguration, InputInvalid];
}
