namespace Mechanist.Validators;

/// <summary>Severity of a finding, configurable per check ID like <c>dotnet_diagnostic.ID.severity</c>.</summary>
public enum Severity
{
    /// <summary>Suppressed: the check does not report.</summary>
    None,
    Suggestion,
    Warning,
    Error,
}
