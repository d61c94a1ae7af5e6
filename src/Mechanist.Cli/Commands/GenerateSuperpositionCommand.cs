using Mechanist.Cli.CommandLine;
using Mechanist.IO;
using Mechanist.Models.Tasks;

namespace Mechanist.Cli.Commands;

/// <summary><c>mechanist generate superposition</c>: synthetic activations with known ground-truth directions.</summary>
public sealed class GenerateSuperpositionCommand : ICommand
{
    public string Name => "generate superposition";
    public string Summary => "synthetic activations with ground-truth directions (one .safetensors: activations + directions)";
    public string Usage => "--features N --dim D [--active K] [--samples M] [--correlated] [--seed S] --out FILE";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("features", "number of ground-truth features n (default 512)", ValueName: "N"),
        new("dim", "activation dimension d (default 256)", ValueName: "D"),
        new("active", "mean number of active features per sample (default 5)", ValueName: "K"),
        new("samples", "number of rows M (default 100000)", ValueName: "M"),
        new("correlated", "pairs of features fire together", TakesValue: false),
        CommonOptions.Seed, CommonOptions.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var outPath = args.Require("out");
        var settings = new SuperpositionSettings(
            Features: args.GetInt("features", 512), Dimension: args.GetInt("dim", 256),
            ActivePerSample: args.GetDouble("active", 5), Samples: args.GetLong("samples", 100_000),
            Correlated: args.Has("correlated"), Seed: CommonOptions.ParseSeed(args));
        SuperpositionData.Write(outPath, settings);
        env.Out.WriteLine($"wrote {settings.Samples} x {settings.Dimension} activations and {settings.Features} directions to {Path.GetFullPath(outPath)}");
        return ExitCodes.Ok;
    }
}
