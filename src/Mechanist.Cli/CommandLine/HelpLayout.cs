using System.CommandLine;
using System.CommandLine.Help;
using Mechanist.Cli.Commands;

namespace Mechanist.Cli.CommandLine;

/// <summary>
/// The help, laid out the same for every verb: System.CommandLine's generated description, arguments and options (with
/// value names), with the generated usage line replaced by the verb's own (which shows the choices between options
/// that the option list cannot). The root's help lists every verb by its full name, how to use response files and tab
/// completion, and the exit codes.
/// </summary>
static class HelpLayout
{
    public const int Width = 120;

    /// <summary>Writes the help <paramref name="result"/> asks for (it holds a help request).</summary>
    public static void Write(ParseResult result, CommandTree tree, TextWriter output)
    {
        var command = result.CommandResult.Command;
        if (command is RootCommand)
        {
            WriteRoot(tree, command.Description ?? "", output);
            return;
        }
        var generated = new StringWriter();
        ((HelpAction)result.Action!).MaxWidth = Width;
        result.Invoke(new InvocationConfiguration { Output = generated, Error = generated });
        output.Write(tree.VerbOf(command) is { } verb ? WithUsage(generated.ToString(), verb) : generated.ToString());
    }

    /// <summary>Replaces the generated "Usage:" line (<c>mechanist decompose [options]</c>) with the verb's usage.</summary>
    internal static string WithUsage(string generated, ICommand verb)
    {
        var lines = generated.Replace("\r\n", "\n").Split('\n').ToList();
        int usage = lines.IndexOf("Usage:");
        var line = $"  mechanist {verb.Name} {verb.Usage}";
        if (usage >= 0 && usage + 1 < lines.Count) lines[usage + 1] = line;
        else lines.InsertRange(0, ["Usage:", line, ""]);
        return string.Join('\n', lines);
    }

    static void WriteRoot(CommandTree tree, string description, TextWriter w)
    {
        w.WriteLine(description);
        w.WriteLine();
        w.WriteLine("Usage:");
        w.WriteLine("  mechanist COMMAND [options]      (mechanist COMMAND --help for its options)");
        w.WriteLine("  mechanist COMMAND @FILE          (arguments read from FILE, one or more per line; # starts a comment)");
        w.WriteLine();
        w.WriteLine("Commands:");
        int width = tree.Commands.Max(c => c.Name.Length);
        foreach (var c in tree.Commands) w.WriteLine($"  {c.Name.PadRight(width)}  {c.Summary}");
        w.WriteLine();
        w.WriteLine("Options:");
        w.WriteLine("  -?, -h, --help  show help and usage information (for a command: mechanist COMMAND --help)");
        w.WriteLine("  --version       show the version");
        w.WriteLine();
        w.WriteLine("Tab completion: install dotnet-suggest (dotnet tool install -g dotnet-suggest), register this command with");
        w.WriteLine("  'dotnet-suggest register --command-path $(command -v mechanist)' and source its shell script (docs/cli.md).");
        w.WriteLine();
        w.WriteLine("Exit codes: 0 ok, 1 an error-severity finding (MECH0001: a method threw), 2 bad usage or input");
    }
}
