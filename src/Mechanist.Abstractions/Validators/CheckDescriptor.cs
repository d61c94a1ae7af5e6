using System.Globalization;

namespace Mechanist.Validators;

/// <summary>
/// Immutable description of one check, like Roslyn's DiagnosticDescriptor. Findings are created from a
/// descriptor plus a location plus message arguments, never from free text.
/// </summary>
/// <param name="Id">Stable ID, <c>MECH</c> and four digits (ranges in the design reference §6).</param>
/// <param name="Title">Short title.</param>
/// <param name="MessageFormat">Composite format string filled with the finding's arguments.</param>
/// <param name="Category">Infrastructure, Decomposition, Attribution, Causal or Interpretation.</param>
/// <param name="DefaultSeverity">Severity unless configured otherwise.</param>
/// <param name="HelpLink">Repository-relative path of the check's documentation page.</param>
/// <param name="MetricDefinition">Exact definition of the measured value, recorded next to every reported value.</param>
/// <param name="DefaultThreshold">Threshold the value is compared with, when the check has one.</param>
public sealed record CheckDescriptor(
    string Id,
    string Title,
    string MessageFormat,
    string Category,
    Severity DefaultSeverity,
    string HelpLink,
    string MetricDefinition = "",
    double? DefaultThreshold = null)
{
    public static bool IsValidId(string id) =>
        id.Length == 8 && id.StartsWith("MECH", StringComparison.Ordinal) && id[4..].All(char.IsAsciiDigit);

    /// <summary>The documentation page every check has: <c>docs/checks/ID.md</c>.</summary>
    public static string DocPath(string id) => $"docs/checks/{id}.md";

    public string FormatMessage(params object?[] args) => string.Format(CultureInfo.InvariantCulture, MessageFormat, args);
}
