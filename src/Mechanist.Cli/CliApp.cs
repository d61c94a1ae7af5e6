using System.Reflection;
using Mechanist.Cli.CommandLine;
using Mechanist.Cli.Commands;
using Mechanist.Host.Discovery;
using Mechanist.Options;

namespace Mechanist.Cli;

/// <summary>Dispatches a command line to its verb and maps failures to exit codes and one-line messages.</summary>
public static class CliApp
{
    public static IReadOnlyList<ICommand> Commands { get; } =
    [
        new PluginsListCommand(), new GenerateSuperpositionCommand(), new DecomposeCommand(), new EvaluateCommand(),
        new HarvestCommand(), new BenchHarvestCommand(),
        new CheckCommand(),
        new AttributeCommand(), new InterpretCommand(), new ReportCommand(), new BenchIgCommand(),
        new TrainModularAdditionCommand(), new TrainToySuperpositionCommand(), new BenchModularAdditionCommand(),
        new TrainBracketsCommand(), new GenerateBracketsCommand(),
        new ConceptsProbeCommand(), new ConceptsTcavCommand(), new ConceptsSparseProbingCommand(), new ConceptsAttributeCommand(),
        new CompareCommand(), new BenchSaeCommand(),
        new PlotParetoCommand(), new PlotTrainingCommand(), new PlotDensityCommand(), new PlotGrokkingCommand(), new PlotAttributionCommand(),
        new SweepCommand(), new SiloCommand(), new BenchSweepCommand(),
    ];

    public static string Version =>
        typeof(CliApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        bool verbose = args.Contains("--verbose");
        if (args.Length == 0)
        {
            WriteHelp(stderr);
            return ExitCodes.BadInput;
        }
        if (args[0] is "--help" or "-h" or "help")
        {
            WriteHelp(stdout);
            return ExitCodes.Ok;
        }
        if (args[0] == "--version")
        {
            stdout.WriteLine($"mechanist {Version}");
            return ExitCodes.Ok;
        }
        var command = Commands.Where(c => Matches(c, args)).MaxBy(c => c.Name.Split(' ').Length);
        if (command is null)
        {
            var verb = args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : string.Join(' ', args.TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).Take(2));
            var closest = NameSuggester.Closest(verb, Commands.Select(c => c.Name));
            stderr.WriteLine($"mechanist: error: unknown command '{verb}'.{(closest is null ? "" : $" Did you mean '{closest}'?")} Run 'mechanist --help' for the list.");
            return ExitCodes.BadInput;
        }
        var rest = args.Skip(command.Name.Split(' ').Length).ToArray();
        if (rest.Contains("--help"))
        {
            WriteCommandHelp(stdout, command);
            return ExitCodes.Ok;
        }
        var env = new CommandEnvironment(stdout, stderr, verbose);
        try
        {
            var parsed = ParsedArguments.Parse(command.Name, rest, command.Options);
            if (parsed.Positionals.Count > command.MaxPositionals)
                throw new UsageException($"unexpected argument '{parsed.Positionals[command.MaxPositionals]}' for '{command.Name}'. See 'mechanist {command.Name} --help'.");
            return command.Run(parsed, env);
        }
        catch (MechanistInputException e)
        {
            stderr.WriteLine($"mechanist: error: {e.Message}");
            if (verbose) stderr.WriteLine(e);
            return ExitCodes.BadInput;
        }
        catch (MethodFailedException e)
        {
            stderr.WriteLine(e.ToFinding().ToString());
            if (verbose) stderr.WriteLine(e.InnerException);
            else stderr.WriteLine("(run with --verbose for the stack trace)");
            return ExitCodes.ErrorFinding;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // libtorch's messages carry native frames after their first line: those only with --verbose.
            stderr.WriteLine($"mechanist: internal error: {e.GetType().Name}: {Mechanist.Host.Running.ExceptionMessages.Brief(e)}");
            if (verbose) stderr.WriteLine(e);
            else stderr.WriteLine("(run with --verbose for the stack trace)");
            return ExitCodes.ErrorFinding;
        }
    }

    static bool Matches(ICommand command, string[] args)
    {
        var words = command.Name.Split(' ');
        return args.Length >= words.Length && words.Select((w, i) => args[i] == w).All(x => x);
    }

    static void WriteHelp(TextWriter w)
    {
        w.WriteLine($"mechanist {Version}: mechanistic interpretability for .NET");
        w.WriteLine();
        w.WriteLine("usage: mechanist COMMAND [options]   (mechanist COMMAND --help for its options)");
        w.WriteLine();
        w.WriteLine("commands:");
        int width = Commands.Max(c => c.Name.Length);
        foreach (var c in Commands) w.WriteLine($"  {c.Name.PadRight(width)}  {c.Summary}");
        w.WriteLine();
        w.WriteLine("exit codes: 0 ok, 1 an error-severity finding (MECH0001: a method threw), 2 bad usage or input");
    }

    static void WriteCommandHelp(TextWriter w, ICommand command)
    {
        w.WriteLine($"usage: mechanist {command.Name} {command.Usage}");
        w.WriteLine();
        w.WriteLine(command.Summary);
        w.WriteLine();
        w.WriteLine("options:");
        int width = command.Options.Max(o => o.Name.Length + (o.TakesValue ? (o.ValueName ?? "VALUE").Length + 1 : 0));
        foreach (var o in command.Options)
            w.WriteLine($"  --{(o.TakesValue ? $"{o.Name} {o.ValueName ?? "VALUE"}" : o.Name).PadRight(width)}  {o.Help}");
    }
}
