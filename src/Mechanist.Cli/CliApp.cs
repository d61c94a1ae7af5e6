using System.CommandLine;
using System.CommandLine.Help;
using System.Reflection;
using Mechanist.Cli.CommandLine;
using Mechanist.Cli.Commands.Bench;
using Mechanist.Cli.Commands;
using Mechanist.Host.Discovery;
using Mechanist.Options;

namespace Mechanist.Cli;

/// <summary>
/// Parses a command line with System.CommandLine (<see cref="CommandTree"/>), runs its verb, and maps failures to exit
/// codes and one-line messages: bad usage or input 2, a method that threw 1 (MECH0001), stack traces only with --verbose.
/// </summary>
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
        var env = new CommandEnvironment(stdout, stderr, verbose);
        var tree = new CommandTree(Commands, (command, parsed) => command.Run(parsed, env), Version);
        var invocation = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        if (args.Length == 0)
        {
            HelpLayout.Write(tree.Parse(["--help"]), tree, stderr);
            return ExitCodes.BadInput;
        }
        if (args is ["help"]) args = ["--help"];
        try
        {
            var result = tree.Parse(args);
            if (result.Action is HelpAction)
            {
                HelpLayout.Write(result, tree, stdout);
                return ExitCodes.Ok;
            }
            if (UsageErrors.Find(result, tree, args) is { } usage) throw new UsageException(usage);
            return result.Invoke(invocation);
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
}
