using System.Globalization;

namespace Mechanist.Validators;

/// <summary>
/// Immutable description of one check, like Roslyn's DiagnosticDescriptor. Findings are created from a
/// descriptor plus a location plus message arguments, never from free text.
/// </summary>
/// <param name="Id">Stable ID: a prefix of letters and digits, like <c>MECH1001</c> or a third party's <c>ACME0001</c>
/// (<see cref="IsValidId"/>). <c>MECH</c> and four digits are Mechanist's own; a plugin declares a prefix of its own.</param>
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
    /// <summary>The prefix of Mechanist's own checks; plugins choose another.</summary>
    public const string MechanistPrefix = "MECH";

    /// <summary>
    /// Whether <paramref name="id"/> is a check ID: a prefix of 2 to 12 ASCII letters, then 1 to 8 digits (<c>MECH1001</c>,
    /// <c>ACME0001</c>, <c>SA1302</c>), as analyzer IDs are written. A <c>MECH</c> ID has exactly four digits.
    /// </summary>
    public static bool IsValidId(string id)
    {
        int letters = 0;
        while (letters < id.Length && char.IsAsciiLetter(id[letters])) letters++;
        int digits = id.Length - letters;
        if (letters is < 2 or > 12 || digits is < 1 or > 8 || !id[letters..].All(char.IsAsciiDigit)) return false;
        // MECH in any case is the host's prefix: only MECH itself, with four digits (Mech1001 is neither its ID nor a plugin's).
        return !IsMechanistId(id) || digits == 4 && id.StartsWith(MechanistPrefix, StringComparison.Ordinal);
    }

    /// <summary>The letters before the digits (<c>ACME</c> of <c>ACME0001</c>); the whole ID when it has no digits.</summary>
    public static string PrefixOf(string id)
    {
        int letters = 0;
        while (letters < id.Length && char.IsAsciiLetter(id[letters])) letters++;
        return id[..letters];
    }

    /// <summary>Whether the ID carries Mechanist's own prefix (<c>MECH</c>), which only the host and the built-in methods may declare.</summary>
    public static bool IsMechanistId(string id) => string.Equals(PrefixOf(id), MechanistPrefix, StringComparison.OrdinalIgnoreCase);

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
