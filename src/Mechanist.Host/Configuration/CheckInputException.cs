using Mechanist.Host.Checks;

namespace Mechanist.Host.Configuration;

/// <summary>
/// One problem with a check's configuration or inputs, with the check ID that classifies it (MECH0003 unknown
/// method or check, MECH0010 invalid configuration, MECH0011 input missing or invalid) and the place in the config
/// file it comes from.
/// </summary>
public sealed record ConfigProblem(string Id, string File, int Line, int Column, string Message)
{
    /// <summary>The MSBuild canonical form: <c>FILE(LINE,COL): error ID: MESSAGE</c>.</summary>
    public string ToCanonical() => $"{File}({Line},{Column}): error {Id}: {Message}";
}

/// <summary>
/// The configuration or an input of a check is invalid: exit code 2, nothing written. Carries every problem found
/// (a config with three mistyped keys reports all three), each with its ID and place.
/// </summary>
public sealed class CheckInputException(IReadOnlyList<ConfigProblem> problems)
    : MechanistInputException(problems.Count == 0 ? "invalid check configuration" :
        $"{problems[0].ToCanonical()}{(problems.Count > 1 ? $" (and {problems.Count - 1} more)" : "")}")
{
    public IReadOnlyList<ConfigProblem> Problems { get; } = problems;
}

/// <summary>Collects problems against a config file's positions.</summary>
public sealed class ProblemList(string file, JsonPositions positions)
{
    readonly List<ConfigProblem> _problems = [];
    readonly HashSet<ConfigProblem> _seen = [];

    public IReadOnlyList<ConfigProblem> Problems => _problems;

    public string File { get; } = file;

    public JsonPositions Positions { get; } = positions;

    public void Add(string id, string pointer, string message)
    {
        message = MechanistInputException.OneLine(message); // a key quoted from the file may hold a newline
        var (line, column) = Positions.Of(pointer);
        var problem = new ConfigProblem(id, File, line, column, message);
        if (_seen.Add(problem)) _problems.Add(problem);
    }

    public void Invalid(string pointer, string message) => Add(ConfigurationChecks.InvalidConfiguration.Id, pointer, message);

    public void Input(string pointer, string message) => Add(ConfigurationChecks.InputInvalid.Id, pointer, message);

    public void Unknown(string pointer, string message) => Add(InfrastructureChecks.UnknownMethodOrCheck.Id, pointer, message);

    /// <summary>Throws <see cref="CheckInputException"/> when any problem was added.</summary>
    public void ThrowIfAny()
    {
        if (_problems.Count > 0) throw new CheckInputException(_problems.ToList());
    }
}
