using System.CommandLine;
using System.CommandLine.Completions;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Mechanist.Cli.Commands;

namespace Mechanist.Cli.CommandLine;

/// <summary>
/// The verbs as a System.CommandLine tree: a two-word verb (<c>plot pareto</c>) is a subcommand of its first word, each
/// <see cref="OptionSpec"/> an option (a flag takes no value, a repeatable option collects every occurrence), and the
/// positional arguments one argument named as in the verb's usage. System.CommandLine brings the parsing, the
/// generated help, <c>@FILE</c> response files and the <c>[suggest]</c> directive that <c>dotnet-suggest</c> uses for
/// tab completion; the verbs' handlers read the result through <see cref="ParsedArguments"/>.
/// </summary>
public sealed class CommandTree
{
    /// <summary>What a word that groups verbs is for, in <c>mechanist WORD --help</c>.</summary>
    static readonly Dictionary<string, string> GroupSummaries = new()
    {
        ["bench"] = "benchmarks: each measures against a baseline in the same run and reports ratios",
        ["generate"] = "synthetic data with known ground truth",
        ["plot"] = "figures as PNG or SVG",
        ["plugins"] = "the methods the host can see",
        ["train"] = "train the project's own models",
    };

    readonly Dictionary<Command, Verb> _verbs = [];

    /// <summary>One verb's System.CommandLine command and the options built from its specs.</summary>
    sealed record Verb(ICommand Command, IReadOnlyList<(OptionSpec Spec, Option Option)> Options, Argument? Positionals);

    public RootCommand Root { get; }

    /// <summary>The verbs, in the order of the list they came from.</summary>
    public IReadOnlyList<ICommand> Commands { get; }

    public CommandTree(IReadOnlyList<ICommand> commands, Func<ICommand, ParsedArguments, int> run, string version)
    {
        Commands = commands;
        Root = new RootCommand($"mechanist {version}: mechanistic interpretability for .NET");
        Root.Add(new DiagramDirective());
        foreach (var command in commands)
        {
            var words = command.Name.Split(' ');
            Command parent = Root;
            foreach (var word in words[..^1])
            {
                var group = parent.Subcommands.FirstOrDefault(c => c.Name == word);
                if (group is null)
                {
                    group = new Command(word, GroupSummaries.GetValueOrDefault(word, $"'{word}' commands"));
                    parent.Add(group);
                }
                parent = group;
            }
            var verb = Build(command, words[^1]);
            parent.Add(verb);
        }
        Root.Options.OfType<HelpOption>().Single().Description = "show help and usage information";
        var versionOption = Root.Options.OfType<VersionOption>().Single();
        versionOption.Action = new WriteAction(w => w.WriteLine($"mechanist {version}"));

        Command Build(ICommand command, string word)
        {
            var cmd = new Command(word, command.Summary);
            var options = new List<(OptionSpec, Option)>();
            foreach (var spec in command.Options)
            {
                if (spec.Name is "help") continue; // the root's recursive --help, -h, -? serves every verb
                Option option = !spec.TakesValue
                    ? new Option<bool>("--" + spec.Name) { Arity = ArgumentArity.Zero }
                    : spec.Repeatable
                        ? new Option<string[]>("--" + spec.Name) { Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false }
                        : new Option<string>("--" + spec.Name) { Arity = ArgumentArity.ExactlyOne };
                option.Description = spec.Help;
                if (spec.TakesValue) option.HelpName = spec.ValueName ?? "VALUE";
                foreach (var source in Completions.For(spec)) option.CompletionSources.Add(source);
                cmd.Add(option);
                options.Add((spec, option));
            }
            Argument? positionals = null;
            if (command.MaxPositionals > 0)
            {
                var first = command.Usage.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(w => !w.StartsWith('[') && !w.StartsWith('-'));
                positionals = command.MaxPositionals == 1
                    ? new Argument<string>("argument") { Arity = ArgumentArity.ZeroOrOne }
                    : new Argument<string[]>("arguments") { Arity = ArgumentArity.ZeroOrMore };
                positionals.HelpName = first ?? "ARGUMENT";
                cmd.Add(positionals);
            }
            var verb = new Verb(command, options, positionals);
            _verbs[cmd] = verb;
            cmd.Action = new RunAction(result => run(command, Arguments(result, verb)));
            return cmd;
        }
    }

    /// <summary>Parses <paramref name="args"/>: response files (<c>@FILE</c>) expanded, POSIX bundling off (no short options).</summary>
    public ParseResult Parse(IReadOnlyList<string> args) =>
        Root.Parse(args, new ParserConfiguration { EnablePosixBundling = false, ResponseFileTokenReplacer = ResponseFiles.TryRead });

    /// <summary>The verb behind a System.CommandLine command; null for the root and the words that group verbs.</summary>
    public ICommand? VerbOf(Command command) => _verbs.TryGetValue(command, out var v) ? v.Command : null;

    /// <summary>The spec an option was built from, for messages in the project's words.</summary>
    public OptionSpec? SpecOf(Option option) =>
        _verbs.Values.SelectMany(v => v.Options).FirstOrDefault(o => ReferenceEquals(o.Option, option)).Spec;

    static ParsedArguments Arguments(ParseResult result, Verb verb)
    {
        var values = new Dictionary<string, IReadOnlyList<string>>();
        foreach (var (spec, option) in verb.Options)
        {
            if (result.GetResult(option) is not OptionResult r || r.Implicit) continue;
            values[spec.Name] = spec.TakesValue ? r.Tokens.Select(t => t.Value).ToList() : ["true"];
        }
        var positionals = verb.Positionals is null ? [] : result.GetResult(verb.Positionals)?.Tokens.Select(t => t.Value).ToList() ?? [];
        return new ParsedArguments(verb.Command.Name, values, positionals);
    }

    sealed class RunAction(Func<ParseResult, int> run) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult) => run(parseResult);
    }

    sealed class WriteAction(Action<TextWriter> write) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            write(parseResult.InvocationConfiguration.Output);
            return ExitCodes.Ok;
        }
    }
}
