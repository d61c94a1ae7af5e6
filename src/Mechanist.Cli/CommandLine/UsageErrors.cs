using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Mechanist.Cli.Commands;
using Mechanist.Options;

namespace Mechanist.Cli.CommandLine;

/// <summary>
/// The first problem System.CommandLine found in a command line, as the one line the project prints for bad usage:
/// what was wrong, the closest valid name where there is one, and where to look.
/// </summary>
static class UsageErrors
{
    /// <summary>
    /// The message for the first problem, or null when the command line is good or asks for help, the version or
    /// completions (which System.CommandLine answers whatever else is on the line).
    /// </summary>
    public static string? Find(ParseResult result, CommandTree tree, IReadOnlyList<string> args)
    {
        var verb = tree.VerbOf(result.CommandResult.Command);
        bool runsVerb = verb is not null && ReferenceEquals(result.Action, result.CommandResult.Command.Action);
        if (result.Action is not ParseErrorAction && !runsVerb) return null;
        if (verb is not null && FirstUnknownOption(result) is { } option) return UnknownOption(verb, option);
        if (result.Action is not ParseErrorAction) return null;
        if (result.UnmatchedTokens.Count > 0)
        {
            var token = result.UnmatchedTokens[0];
            return verb is null
                ? UnknownCommand(args, tree)
                : $"unexpected argument '{token}' for '{verb.Name}'. See 'mechanist {verb.Name} --help'.";
        }
        foreach (var error in result.Errors)
        {
            switch (error.SymbolResult)
            {
                case OptionResult o when tree.SpecOf(o.Option) is { } spec && verb is not null:
                    if (!spec.TakesValue) return $"option '--{spec.Name}' of '{verb.Name}' takes no value.";
                    if (o.Tokens.Count == 0) return $"option '--{spec.Name}' of '{verb.Name}' needs a value ({spec.ValueName ?? "VALUE"}).";
                    if (!spec.Repeatable && o.Tokens.Count > 1) return $"option '--{spec.Name}' of '{verb.Name}' is given more than once.";
                    break;
                case CommandResult c when tree.VerbOf(c.Command) is null && c.Command.Subcommands.Count > 0:
                    var path = string.Join(' ', c.Command.Parents.OfType<Command>().Where(p => p is not RootCommand).Select(p => p.Name).Reverse().Append(c.Command.Name));
                    if (c.Command is RootCommand) return "no command given. Run 'mechanist --help' for the list.";
                    return $"'{path}' needs a command: {string.Join(", ", tree.Commands.Where(v => v.Name.StartsWith(path + " ", StringComparison.Ordinal)).Select(v => v.Name))}. See 'mechanist {path} --help'.";
            }
        }
        var message = result.Errors[0].Message;
        return message.Length > 0 ? char.ToLowerInvariant(message[0]) + message[1..] : "the command line could not be parsed.";
    }

    /// <summary>The message for <c>--name</c> that <paramref name="verb"/> does not have, with the closest option it has.</summary>
    public static string UnknownOption(ICommand verb, string token)
    {
        var name = token[2..];
        int eq = name.IndexOf('=');
        if (eq >= 0) name = name[..eq];
        var closest = NameSuggester.Closest(name, verb.Options.Select(s => s.Name));
        return $"unknown option '--{name}' for '{verb.Name}'.{(closest is null ? "" : $" Did you mean '--{closest}'?")} See 'mechanist {verb.Name} --help'.";
    }

    /// <summary>
    /// A token that looks like an option but is none of the verb's: left unmatched, or taken as a positional argument
    /// (System.CommandLine hands a verb's arguments every token it does not know).
    /// </summary>
    static string? FirstUnknownOption(ParseResult result)
    {
        var unmatched = result.UnmatchedTokens.ToHashSet();
        var positional = result.CommandResult.Children.OfType<ArgumentResult>().SelectMany(a => a.Tokens).Select(t => t.Value).ToHashSet();
        return result.Tokens.Where(t => t.Type == TokenType.Argument).Select(t => t.Value)
            .FirstOrDefault(v => v.StartsWith("--", StringComparison.Ordinal) && v != "--" && (unmatched.Contains(v) || positional.Contains(v)));
    }

    static string UnknownCommand(IReadOnlyList<string> args, CommandTree tree)
    {
        var verb = args[0].StartsWith("--", StringComparison.Ordinal) ? args[0]
            : string.Join(' ', args.TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).Take(2));
        var closest = NameSuggester.Closest(verb, tree.Commands.Select(c => c.Name));
        return $"unknown command '{verb}'.{(closest is null ? "" : $" Did you mean '{closest}'?")} Run 'mechanist --help' for the list.";
    }
}
