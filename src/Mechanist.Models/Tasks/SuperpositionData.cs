using System.Globalization;
using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Models.Tasks;

/// <summary>Settings of a synthetic superposition data set (design reference §8).</summary>
public sealed record SuperpositionSettings(
    int Features = 512,
    int Dimension = 256,
    double ActivePerSample = 5,
    long Samples = 100_000,
    bool Correlated = false,
    double FrequencyDecay = 0.99,
    int Seed = 0)
{
    public void Validate()
    {
        if (Features < 1) throw new MechanistInputException($"--features must be at least 1, got {Features}.");
        if (Dimension < 1) throw new MechanistInputException($"--dim must be at least 1, got {Dimension}.");
        if (Samples < 1) throw new MechanistInputException($"--samples must be at least 1, got {Samples}.");
        if (ActivePerSample <= 0 || ActivePerSample > Features)
            throw new MechanistInputException($"--active must be in (0, {Features}] (the number of features), got {ActivePerSample}.");
        if (FrequencyDecay <= 0 || FrequencyDecay > 1)
            throw new MechanistInputException($"frequency decay must be in (0, 1], got {FrequencyDecay}.");
    }
}

/// <summary>
/// Activations built from known features, Sharkey et al. (2022) style: n random unit directions in d dimensions
/// (n may exceed d: superposition); each sample is a sparse non-negative combination of them. Feature i fires
/// with probability p_i ∝ decay^i (scaled so that E[active] = ActivePerSample, capped at 1) with a magnitude
/// uniform in (0, 1]. With correlations, features come in pairs: the odd one of a pair fires with its even
/// partner half the time, beyond its own rate. Decomposers are scored by MMCS against the directions.
/// </summary>
public static class SuperpositionData
{
    /// <summary>The tensor of ground-truth directions [n, d] in a generated file (read back as ground truth).</summary>
    public const string DirectionsTensorName = "directions";

    /// <summary>
    /// Generates the data and writes one <c>.safetensors</c> file, atomically: tensors <c>activations</c> and
    /// <c>directions</c>, and the settings as metadata (generator, features, dim, active, samples, correlated, seed).
    /// </summary>
    public static void Write(string path, SuperpositionSettings s)
    {
        var (activations, directions) = Generate(s);
        using (activations)
        using (directions)
        {
            Safetensors.Write(path, new Dictionary<string, Tensor>
            {
                [ActivationFiles.TensorName] = activations, [DirectionsTensorName] = directions,
            }, new Dictionary<string, string>
            {
                ["generator"] = "superposition", ["features"] = s.Features.ToString(CultureInfo.InvariantCulture),
                ["dim"] = s.Dimension.ToString(CultureInfo.InvariantCulture),
                ["active"] = s.ActivePerSample.ToString(CultureInfo.InvariantCulture),
                ["samples"] = s.Samples.ToString(CultureInfo.InvariantCulture), ["correlated"] = s.Correlated ? "true" : "false",
                ["seed"] = s.Seed.ToString(CultureInfo.InvariantCulture),
            });
        }
    }

    /// <summary>Returns activations [Samples, Dimension] and directions [Features, Dimension], float32 on CPU.</summary>
    public static (Tensor Activations, Tensor Directions) Generate(SuperpositionSettings s)
    {
        s.Validate();
        using var scope = NewDisposeScope();
        var g = new Generator((ulong)s.Seed);
        var directions = nn.functional.normalize(randn(s.Features, s.Dimension, generator: g), dim: 1);
        var decay = pow(tensor(s.FrequencyDecay, ScalarType.Float64), arange(s.Features, ScalarType.Float64));
        var p = (decay * (s.ActivePerSample / decay.sum())).clamp_max(1.0).to(ScalarType.Float32);
        var fires = rand(s.Samples, s.Features, generator: g) < p;
        if (s.Correlated && s.Features > 1)
        {
            int pairs = s.Features / 2;
            var even = fires.index_select(1, arange(0, 2 * pairs, 2));
            var follow = rand(s.Samples, pairs, generator: g) < 0.5;
            var odd = fires.index_select(1, arange(1, 2 * pairs, 2)).logical_or(even.logical_and(follow));
            fires.index_copy_(1, arange(1, 2 * pairs, 2), odd);
        }
        var magnitude = 1 - rand(s.Samples, s.Features, generator: g);
        var coefficients = magnitude * fires.to(ScalarType.Float32);
        var activations = coefficients.matmul(directions);
        return (activations.MoveToOuterDisposeScope(), directions.MoveToOuterDisposeScope());
    }
}
