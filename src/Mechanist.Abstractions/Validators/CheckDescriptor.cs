using System.Globalization;

namespace Mechanist.Validators;

/// <summary>
/// Immutable description of one check, like Roslyn's DiagnosticDescriptor. Findings are created from a
/// descriptor plus a location plus message arguments, never from free text.
/// </summary>
/// <param name="Id">Stable ID, <c>MECH</c> and four digits (ranges in the design reference §6).</param>
/// <param name="Title">Short title.</param>
/// <param name="MessageFormat">Composite format string filled with the finding's arguments.</param>
/// <param name="Category">Infrastructure, Decomposition, Attribution, Causal, Interpretation or Regression.</param>
/// <param name="DefaultSeverity">Severity unless configured otherwise.</param>
/// <param name="HelpLink">Repository-relative path of the check's documentation page.</param>
/// <param name="MetricDefinition">Exact definition of the measured value, recorded next to every reported value.</param>
/// <param name="DefaultThreshold">Threshold the value is compared with, when the check has one.</param>
/// <param name="Requires">Inputs this check needs beyond its validator's (<c>[Validator(Requires = …)]</c>): the host
/// refuses a configuration that enables the check without them (MECH0010).</param>
/// <param name="Direction">Which way the measured value is better, for comparisons with a baseline (MECH5xxx).</param>
public sealed record CheckDescriptor(
    string Id,
    string Title,
    string MessageFormat,
    string Category,
    Severity DefaultSeverity,
    string HelpLink,
    string MetricDefinition = "",
    double? DefaultThreshold = null,
    ValidationInputs Requires = ValidationInputs.None,
    MetricDirection Direction = MetricDirection.None)
{
    public static bool IsValidId(string id) =>
        id.Length == 8 && id.StartsWith("MECH", StringComparison.Ordinal) && id[4..].All(char.IsAsciiDigit);

    /// <summary>The documentation page every check has: <c>docs/checks/ID.md</c>.</summary>
    public static string DocPath(string id) => $"docs/checks/{id}.md";

    public string FormatMessage(params object?[] args) => string.Format(CultureInfo.InvariantCulture, MessageFormat, args);
}

/// <summary>Which way a check's measured value improves.</summary>
public enum MetricDirection
{
    /// <summary>Not ordered (or not a quality): never a regression.</summary>
    None,

    /// <summary>Larger is better (explained variance, CE-loss score, a causal fraction).</summary>
    HigherIsBetter,

    /// <summary>Smaller is better (L0, dead fraction, a completeness error, KL).</summary>
    LowerIsBetter,
}
