using System.Globalization;
using System.Text.Json.Nodes;
using Mechanist.Models.Architectures;
using static TorchSharp.torch;

namespace Mechanist.Models.Training;

/// <summary>
/// Settings of a toy-superposition run (Elhage et al. 2022): feature i is active with probability 1 − S
/// (S = sparsity), with a value uniform in [0, 1); its importance is decay^i.
/// </summary>
public sealed record ToySuperpositionTrainingOptions
{
    public int Features { get; init; } = 20;

    public int Hidden { get; init; } = 5;

    /// <summary>S: the probability that a feature is zero.</summary>
    public double Sparsity { get; init; }

    /// <summary>Importance of feature i is decay^i.</summary>
    public double ImportanceDecay { get; init; } = 0.7;

    public int Steps { get; init; } = 10_000;

    public int BatchSize { get; init; } = 1024;

    public double Lr { get; init; } = 1e-3;

    public int Seed { get; init; }

    public void Validate()
    {
        string F(double x) => x.ToString(CultureInfo.InvariantCulture);
        if (Features < 1) throw new MechanistInputException($"--features must be at least 1, got {Features}.");
        if (Hidden < 1) throw new MechanistInputException($"--hidden must be at least 1, got {Hidden}.");
        if (!(Sparsity >= 0 && Sparsity < 1)) throw new MechanistInputException($"--sparsity must be in [0, 1) (the probability that a feature is zero), got {F(Sparsity)}.");
        if (!(ImportanceDecay > 0 && ImportanceDecay <= 1)) throw new MechanistInputException($"--importance-decay must be in (0, 1], got {F(ImportanceDecay)}.");
        if (Steps < 1) throw new MechanistInputException($"--steps must be at least 1, got {Steps}.");
        if (BatchSize < 1) throw new MechanistInputException($"--batch-size must be at least 1, got {BatchSize}.");
        if (!(Lr > 0)) throw new MechanistInputException($"--lr must be positive, got {F(Lr)}.");
    }

    public JsonObject ToJson() => new()
    {
        ["features"] = Features, ["hidden"] = Hidden, ["sparsity"] = Sparsity, ["importance_decay"] = ImportanceDecay,
        ["steps"] = Steps, ["batch_size"] = BatchSize, ["lr"] = Lr, ["seed"] = Seed,
    };
}

/// <summary>What a toy-superposition run learned, feature by feature.</summary>
/// <param name="Loss">Importance-weighted MSE on 16 384 fresh samples after training.</param>
/// <param name="FeatureNorms">‖W_i‖ for each feature i (column i of W).</param>
/// <param name="Superposition">Σ_{j≠i} (Ŵ_i · W_j)²: how much other features share feature i's direction (0 = orthogonal).</param>
/// <param name="Represented">Features with ‖W_i‖ &gt; 0.5.</param>
/// <param name="DimensionsPerFeature">n_hidden / ‖W‖_F² (Elhage et al.'s "dimensions per feature").</param>
public sealed record ToySuperpositionResult(double Loss, double[] FeatureNorms, double[] Superposition, int Represented, double DimensionsPerFeature)
{
    public JsonObject ToJson(ToySuperpositionTrainingOptions options) => new()
    {
        ["task"] = ToySuperposition.ModelTypeId,
        ["loss"] = Loss,
        ["represented_features"] = Represented,
        ["dimensions_per_feature"] = DimensionsPerFeature,
        ["feature_norms"] = new JsonArray(FeatureNorms.Select(x => (JsonNode?)x).ToArray()),
        ["superposition"] = new JsonArray(Superposition.Select(x => (JsonNode?)x).ToArray()),
        ["options"] = options.ToJson(),
        ["definitions"] = new JsonObject
        {
            ["data"] = "x_i = u_i * [r_i >= sparsity], u_i, r_i ~ U[0, 1) independent",
            ["loss"] = "mean over 16384 fresh samples of sum_i importance_i (x_i - x'_i)^2, importance_i = importance_decay^i",
            ["feature_norms"] = "||W_i||, the norm of column i of W [hidden, features]",
            ["represented_features"] = "number of features with ||W_i|| > 0.5",
            ["superposition"] = "sum over j != i of (W_i / ||W_i|| . W_j)^2 (0 when W_i is orthogonal to every other feature)",
            ["dimensions_per_feature"] = "hidden / ||W||_F^2",
        },
    };
}

/// <summary>
/// Trains <see cref="ToySuperposition"/> with Adam on freshly drawn sparse batches, minimising the
/// importance-weighted MSE Σ_i I_i (x_i − x'_i)² (mean over the batch), as in Elhage et al. (2022).
/// </summary>
public static class ToySuperpositionTrainer
{
    public const int EvaluationSamples = 16_384;
    public const string MetricsFile = "metrics.json";

    public static (ToySuperposition Model, ToySuperpositionResult Result) Train(ToySuperpositionTrainingOptions options,
        Device? device = null, IProgress<ProgressReport>? progress = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        device ??= CPU;
        var config = new ToySuperpositionConfig { NFeatures = options.Features, NHidden = options.Hidden };
        var model = ToySuperposition.Create(config, options.Seed, device);
        try
        {
            using var importance = Importance(options, device);
            using var adam = new AdamW(model.Weights, new AdamWSettings(options.Lr));
            var data = new Generator((ulong)options.Seed + 1, device);
            int reportEvery = Math.Max(1, options.Steps / 100);
            for (int step = 0; step < options.Steps; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var x = Sample(options, options.BatchSize, data, device);
                var loss = Loss(model, x, importance);
                adam.ZeroGrad();
                loss.backward();
                adam.Step();
                if ((step + 1) % reportEvery == 0 || step + 1 == options.Steps)
                    progress?.Report(new ProgressReport(step + 1, options.Steps, new Dictionary<string, double> { ["loss"] = loss.item<float>() }));
            }
            return (model, Measure(model, options, importance, device));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>I_i = decay^i [features].</summary>
    public static Tensor Importance(ToySuperpositionTrainingOptions options, Device device) =>
        pow(options.ImportanceDecay, arange(options.Features, ScalarType.Float32, device: device));

    /// <summary>A batch of sparse inputs: each feature is U[0, 1) with probability 1 − S, else 0.</summary>
    public static Tensor Sample(ToySuperpositionTrainingOptions options, int batch, Generator generator, Device device)
    {
        using var scope = NewDisposeScope();
        var values = rand(batch, options.Features, generator: generator, device: device);
        var active = rand(batch, options.Features, generator: generator, device: device) >= options.Sparsity;
        return (values * active).MoveToOuterDisposeScope();
    }

    /// <summary>Mean over the batch of Σ_i I_i (x_i − x'_i)².</summary>
    public static Tensor Loss(ToySuperposition model, Tensor x, Tensor importance) =>
        ((x - model.call(x)).square() * importance).sum(1).mean();

    static ToySuperpositionResult Measure(ToySuperposition model, ToySuperpositionTrainingOptions options, Tensor importance, Device device)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = Sample(options, EvaluationSamples, new Generator((ulong)options.Seed + 2, device), device);
        double loss = Loss(model, x, importance).item<float>();
        var w = model.W.detach().cpu().to(ScalarType.Float64);          // [hidden, features]
        var norms = linalg.vector_norm(w, dims: [0]);                    // [features]
        var unit = w / norms.clamp_min(1e-12);
        var overlap = unit.t().matmul(w).square();                       // [i, j] = (Ŵ_i · W_j)²
        var superposition = overlap.sum(1) - overlap.diagonal();
        double dimsPerFeature = options.Hidden / w.square().sum().item<double>();
        var normArray = norms.data<double>().ToArray();
        return new ToySuperpositionResult(loss, normArray, superposition.data<double>().ToArray(), normArray.Count(n => n > 0.5), dimsPerFeature);
    }
}
