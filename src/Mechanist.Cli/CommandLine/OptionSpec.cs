namespace Mechanist.Cli.CommandLine;

/// <summary>
/// An option a command accepts. The command tree turns it into a System.CommandLine option (<see cref="CommandTree"/>);
/// its value is read back, with the project's one-line messages, through <see cref="ParsedArguments"/>.
/// </summary>
/// <param name="Choices">The values it accepts, offered by tab completion and shown in help (null: free text).</param>
public sealed record OptionSpec(string Name, string Help, bool TakesValue = true, bool Repeatable = false, string? ValueName = null,
    IReadOnlyList<string>? Choices = null);
