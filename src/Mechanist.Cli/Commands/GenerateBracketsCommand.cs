using Mechanist.Cli.CommandLine;
using Mechanist.Models.Tasks;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist generate brackets</c>: sequences of the bracket language with the concepts of every token (depth,
/// innermost bracket type, token kind), one .safetensors file that is both the data set and its truth.
/// </summary>
public sealed class GenerateBracketsCommand : ICommand
{
    public string Name => "generate brackets";
    public string Summary => "bracket-language sequences with per-token concept labels (tokens + concept.depth|top|kind in one .safetensors)";
    public string Usage => "--sequences N [--length L] [--max-depth D] [--seed S] --out FILE";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("sequences", "number of sequences (default 512)", ValueName: "N"),
        new("length", "tokens per sequence, <bos> included (default 48)", ValueName: "L"),
        new("max-depth", "deepest nesting (default 4)", ValueName: "D"),
        CommonOptions.Seed, CommonOptions.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var outPath = args.Require("out");
        int count = args.GetInt("sequences", 512);
        if (count < 1) throw new UsageException($"--sequences must be at least 1, got {count}.");
        var settings = new BracketLanguageSettings(args.GetInt("length", 48), args.GetInt("max-depth", 4));
        settings.Validate();
        int seed = CommonOptions.ParseSeed(args);
        BracketLanguage.WriteLabelled(outPath, count, settings, seed);
        env.Out.WriteLine($"wrote {count} sequences of {settings.Length} tokens with concepts depth, top, kind to {Path.GetFullPath(outPath)}");
        return ExitCodes.Ok;
    }
}
