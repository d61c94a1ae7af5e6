using Mechanist.Cli.CommandLine;
using Mechanist.Host.Activations;
using Mechanist.Reports.Plots;

namespace Mechanist.Cli.Commands;

/// <summary>What every <c>mechanist plot …</c> command shares: the output file (PNG or SVG by its extension).</summary>
static class PlotOutput
{
    public static readonly OptionSpec Out = new("out", "the picture to write: FILE.png or FILE.svg (atomically)", ValueName: "FILE");

    public static string Require(ParsedArguments args)
    {
        var path = args.Require("out");
        var extension = Path.GetExtension(path).ToLowerInvariant();
        if (!Figure.Extensions.Contains(extension))
            throw new UsageException($"--out {path}: a plot is written as .png or .svg, got '{(extension.Length == 0 ? "no extension" : extension)}'.");
        return path;
    }

    public static int Save(Figure figure, string path, CommandEnvironment env)
    {
        figure.Save(path);
        env.Out.WriteLine($"-> {Path.GetFullPath(path)} ({figure.Width}×{figure.Height})");
        return ExitCodes.Ok;
    }
}

/// <summary><c>mechanist plot pareto</c>: L0 against a fidelity metric, one point per method, the frontier joined.</summary>
public sealed class PlotParetoCommand : ICommand
{
    public string Name => "plot pareto";
    public string Summary => "Pareto front (L0 vs FVU, MMCS or CE-loss score) from compare/decompose/evaluate outputs, as PNG or SVG";
    public string Usage => "FILE... [--x METRIC] [--y METRIC] --out FILE.png|FILE.svg";
    public int MaxPositionals => int.MaxValue;
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("x", "metric on the x axis (default l0)", ValueName: "METRIC"),
        new("y", "metric on the y axis: fvu (default), mmcs, explained_variance, ce_loss_score, kl_score, …", ValueName: "METRIC"),
        PlotOutput.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        if (args.Positionals.Count == 0)
            throw new UsageException("'plot pareto' needs at least one input: a compare results.json, a decompose metrics.json or an 'evaluate --out' report.");
        var outPath = PlotOutput.Require(args);
        string x = args.Get("x") ?? "l0", y = args.Get("y") ?? "fvu";
        var points = ParetoInputs.Read(args.Positionals, x, y);
        return PlotOutput.Save(ParetoPlot.Render(points, x, y), outPath, env);
    }
}

/// <summary><c>mechanist plot training</c>: training curves from one or more trainers' logs.</summary>
public sealed class PlotTrainingCommand : ICommand
{
    public string Name => "plot training";
    public string Summary => "training curves (loss, FVU, L0, dead fraction) from training_log.jsonl files, as PNG or SVG";
    public string Usage => "LOG|DIR... [--metrics a,b,...] --out FILE.png|FILE.svg";
    public int MaxPositionals => int.MaxValue;
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("metrics", "metrics to draw, comma-separated (default: loss, fvu, l0, dead_fraction where logged)", ValueName: "LIST"),
        PlotOutput.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        if (args.Positionals.Count == 0)
            throw new UsageException("'plot training' needs at least one training_log.jsonl (or a folder holding one, as decompose and compare write).");
        var outPath = PlotOutput.Require(args);
        var metrics = args.Get("metrics")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var logs = args.Positionals.Select(p => RunLog.Read(p)).ToList();
        return PlotOutput.Save(TrainingCurves.Render(logs, metrics), outPath, env);
    }
}

/// <summary><c>mechanist plot density</c>: the feature-density histogram of a decomposition on activations.</summary>
public sealed class PlotDensityCommand : ICommand
{
    public string Name => "plot density";
    public string Summary => "feature-density histogram (log10 firing frequency) of a decomposition on activations, as PNG or SVG";
    public string Usage => "--decomposition DIR --activations FILE|DIR [--site SITE] [--device D] --out FILE.png|FILE.svg";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("decomposition", "SAELens-layout folder", ValueName: "DIR"),
        new("activations", ".safetensors/.npy activations [N, d_in], or a harvested store folder", ValueName: "FILE"),
        new("site", "the site to read from a store with several", ValueName: "SITE"),
        CommonOptions.Device, PlotOutput.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var folder = args.Require("decomposition");
        var activationsPath = args.Require("activations");
        var outPath = PlotOutput.Require(args);
        var device = CommonOptions.ParseDevice(args);
        using var decomposition = Mechanist.Host.Formats.DecompositionFolder.Load(folder);
        using var inputs = ActivationInputs.Load(activationsPath, null, args.Get("site"));
        var frequencies = FeatureDensity.Compute(decomposition, inputs.Activations, device: device);
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
        return PlotOutput.Save(DensityHistogram.Render(frequencies, inputs.Activations.Count, $"feature density of {name}"), outPath, env);
    }
}

/// <summary><c>mechanist plot grokking</c>: train and held-out accuracy and loss of a modular-addition run.</summary>
public sealed class PlotGrokkingCommand : ICommand
{
    public string Name => "plot grokking";
    public string Summary => "grokking curves (train and held-out accuracy and loss over epochs) of a 'train modular-addition' folder";
    public string Usage => "DIR --out FILE.png|FILE.svg";
    public int MaxPositionals => 1;
    public IReadOnlyList<OptionSpec> Options { get; } = [PlotOutput.Out, CommonOptions.Verbose, CommonOptions.Help];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        if (args.Positionals.Count == 0) throw new UsageException("'plot grokking' needs the folder of a 'mechanist train modular-addition' run.");
        var outPath = PlotOutput.Require(args);
        return PlotOutput.Save(GrokkingCurves.Render(args.Positionals[0]), outPath, env);
    }
}

/// <summary><c>mechanist plot attribution</c>: an attribution report's scores as bars.</summary>
public sealed class PlotAttributionCommand : ICommand
{
    public string Name => "plot attribution";
    public string Summary => "an 'attribute --out' report as a bar chart (per token position, unit or element), as PNG or SVG";
    public string Usage => "FILE [--by auto|position|unit|element] [--top N] --out FILE.png|FILE.svg";
    public int MaxPositionals => 1;
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("by", "bars per token position (scores summed over inner axes), per unit, or per element (default auto)", ValueName: "HOW", Choices: AttributionScores.Groupings),
        new("top", "largest-magnitude bars shown (default 20)", ValueName: "N"),
        PlotOutput.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        if (args.Positionals.Count == 0) throw new UsageException("'plot attribution' needs the JSON report of 'mechanist attribute --out FILE'.");
        var outPath = PlotOutput.Require(args);
        int top = args.GetInt("top", 20);
        if (top < 1) throw new UsageException("option '--top' must be at least 1.");
        var by = args.GetChoice("by", "auto", AttributionScores.Groupings);
        var read = AttributionScores.FromFile(args.Positionals[0], top, by);
        return PlotOutput.Save(AttributionBars.Render(read.Scores, read.Title, read.ValueLabel), outPath, env);
    }
}
