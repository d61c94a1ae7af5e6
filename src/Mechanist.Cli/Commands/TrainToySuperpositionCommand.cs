using System.Globalization;
using System.Text.Json;
using Mechanist.Cli.CommandLine;
using Mechanist.IO;
using Mechanist.Models.Training;

namespace Mechanist.Cli.Commands;

/// <summary><c>mechanist train toy-superposition</c>: the toy model of Elhage et al. (2022) at one sparsity.</summary>
public sealed class TrainToySuperpositionCommand : ICommand
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public string Name => "train toy-superposition";
    public string Summary => "train the toy model of superposition x' = ReLU(W^T W x + b) on sparse features; writes the model and per-feature metrics";
    public string Usage => "--features N --hidden M --sparsity S --out DIR [--importance-decay D] [--steps K] [--batch-size B] [--lr LR] [--seed S]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("features", "number of input features n", ValueName: "N"),
        new("hidden", "hidden dimensions m", ValueName: "M"),
        new("sparsity", "probability S that a feature is zero, in [0, 1)", ValueName: "S"),
        new("importance-decay", "importance of feature i is D^i (default 0.7)", ValueName: "D"),
        new("steps", "Adam steps (default 10000)", ValueName: "K"),
        new("batch-size", "samples per step (default 1024)", ValueName: "B"),
        new("lr", "Adam learning rate (default 0.001)", ValueName: "LR"),
        CommonOptions.Seed, CommonOptions.Out, CommonOptions.Device, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        foreach (var required in new[] { "features", "hidden", "sparsity", "out" }) args.Require(required);
        var folder = args.Require("out");
        var defaults = new ToySuperpositionTrainingOptions();
        var options = new ToySuperpositionTrainingOptions
        {
            Features = args.GetInt("features", defaults.Features),
            Hidden = args.GetInt("hidden", defaults.Hidden),
            Sparsity = args.GetDouble("sparsity", defaults.Sparsity),
            ImportanceDecay = args.GetDouble("importance-decay", defaults.ImportanceDecay),
            Steps = args.GetInt("steps", defaults.Steps),
            BatchSize = args.GetInt("batch-size", defaults.BatchSize),
            Lr = args.GetDouble("lr", defaults.Lr),
            Seed = CommonOptions.ParseSeed(args),
        };
        options.Validate();
        if (File.Exists(folder) || (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any()))
            throw new UsageException($"--out {folder}: exists and is not empty; choose a new folder.");
        var device = CommonOptions.ParseDevice(args);

        MallocTuning.ConfigureForTraining();
        var (model, result) = ToySuperpositionTrainer.Train(options, device, new Progress(env.Error));
        using (model)
        {
            AtomicFile.WriteDirectory(folder, temp =>
            {
                model.WriteInto(temp);
                AtomicFile.WriteText(Path.Combine(temp, ToySuperpositionTrainer.MetricsFile), result.ToJson(options).ToJsonString(Indented) + "\n");
            });
        }
        env.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"loss {result.Loss:G4}; {result.Represented} of {options.Features} features represented (||W_i|| > 0.5) in {options.Hidden} dimensions; {result.DimensionsPerFeature:F3} dimensions per feature"));
        env.Out.WriteLine("||W_i||: " + string.Join(" ", result.FeatureNorms.Select(n => n.ToString("F2", CultureInfo.InvariantCulture))));
        env.Out.WriteLine($"wrote {Path.GetFullPath(folder)}");
        return ExitCodes.Ok;
    }

    sealed class Progress(TextWriter error) : IProgress<ProgressReport>
    {
        readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        TimeSpan? _last;

        public void Report(ProgressReport r)
        {
            if (r.Step != r.Total && _last is { } last && _clock.Elapsed - last < TimeSpan.FromSeconds(5)) return;
            _last = _clock.Elapsed;
            error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {r.Step}/{r.Total}  loss {r.Values["loss"]:G4}"));
        }
    }
}
