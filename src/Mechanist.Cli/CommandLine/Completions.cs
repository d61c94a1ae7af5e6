using System.CommandLine.Completions;
using Mechanist.Host;

namespace Mechanist.Cli.CommandLine;

/// <summary>
/// What tab completion offers for an option's value (through the <c>[suggest]</c> directive that <c>dotnet-suggest</c>
/// calls): its <see cref="OptionSpec.Choices"/>, and for <c>--method</c>/<c>--methods</c> the built-in methods' IDs.
/// Paths are left to the shell, which completes files when no suggestion matches.
/// </summary>
static class Completions
{
    public static IEnumerable<Func<CompletionContext, IEnumerable<CompletionItem>>> For(OptionSpec spec)
    {
        if (spec.Choices is { Count: > 0 } choices)
            yield return context => Matching(choices, context);
        else if (spec.Name is "method" or "methods")
            yield return context => Matching(MethodIds(), context);
    }

    static IEnumerable<CompletionItem> Matching(IEnumerable<string> values, CompletionContext context) =>
        values.Where(v => v.StartsWith(context.WordToComplete, StringComparison.Ordinal)).Select(v => new CompletionItem(v));

    /// <summary>The built-in methods' IDs, read from the catalog only when completion asks.</summary>
    static IEnumerable<string> MethodIds()
    {
        using var host = MechanistHost.Create([]);
        return host.Catalog.Entries.Select(e => e.Id).Order(StringComparer.Ordinal).ToList();
    }
}
