using Mechanist.Decomposers;
using static TorchSharp.torch;

namespace Mechanist.Methods.Evaluation;

/// <summary>Quality of a decomposition on a set of activations, each value with its exact definition.</summary>
public sealed record DecompositionMetrics(
    long Samples,
    double Mse,
    double Fvu,
    double ExplainedVariance,
    double L0,
    double DeadFraction,
    double DenseFraction,
    double? Mmcs)
{
    /// <summary>The latents that never fired (f_i = 0 on every row), ascending.</summary>
    public IReadOnlyList<int> DeadLatents { get; init; } = [];

    /// <summary>A latent counts as dense when it fires on more than this fraction of samples.</summary>
    public const double DenseFiringRate = 0.1;

    /// <summary>The definition of every metric, written next to the values in reports.</summary>
    public static readonly IReadOnlyDictionary<string, string> Definitions = new Dictionary<string, string>
    {
        ["samples"] = "N, the number of activation rows evaluated",
        ["mse"] = "sum_n ||x_n - xhat_n||^2 / (N * d_in)",
        ["fvu"] = "sum_n ||x_n - xhat_n||^2 / sum_n ||x_n - xbar||^2, xbar the mean over the whole dataset",
        ["explained_variance"] = "1 - fvu",
        ["l0"] = "mean over rows of the number of latents with f_i != 0",
        ["dead_fraction"] = "fraction of the d_sae latents with f_i = 0 on every row",
        ["dense_fraction"] = "fraction of the d_sae latents with f_i != 0 on more than 10% of rows",
        ["mmcs"] = "mean over ground-truth directions g_i of max_j cos(g_i, W_dec[j]) (decoder rows)",
    };

    /// <summary>
    /// Streams <paramref name="source"/> once in batches; sums are kept in float64. When
    /// <paramref name="groundTruth"/> [n, d_out] is given, also computes MMCS against the decoder rows. With
    /// <paramref name="targets"/> (row-aligned with the source; a transcoder's MLP output) the reconstruction is
    /// compared with the targets instead of the input: x in the definitions is then the target.
    /// </summary>
    public static DecompositionMetrics Compute(Decomposition decomposition, IActivationSource source, Tensor? groundTruth = null,
        int batchSize = 4096, Device? device = null, CancellationToken cancellation = default, IActivationSource? targets = null)
    {
        if (decomposition.DIn != source.Dimension)
            throw new MechanistInputException(
                $"the decomposition has d_in = {decomposition.DIn} but the activations in {source.Name} have dimension {source.Dimension}.");
        var reference = targets ?? source;
        if (decomposition.DOut != reference.Dimension)
            throw new MechanistInputException(targets is null
                ? $"the decomposition reconstructs d_out = {decomposition.DOut} values per row but {source.Name} has dimension {source.Dimension}; a transcoder needs its targets (--targets)."
                : $"the decomposition has d_out = {decomposition.DOut} but the targets in {targets.Name} have dimension {targets.Dimension}.");
        device ??= CPU;
        using var scope = NewDisposeScope();
        var sumX = zeros(reference.Dimension, ScalarType.Float64, device);
        double sumSquares = 0, sumError = 0, activeCount = 0;
        var firing = zeros(decomposition.DSae, ScalarType.Float64, device);
        long n = 0;
        using (no_grad())
        {
            IReadOnlyList<IActivationSource> sources = targets is null ? [source] : [source, targets];
            foreach (var batch in AlignedBatches.Read(sources, batchSize))
            {
                cancellation.ThrowIfCancellationRequested();
                using var step = NewDisposeScope();
                var input = batch[0].to(device);
                var x = batch[^1].to(device);
                foreach (var b in batch) b.Dispose();
                var f = decomposition.Encode(input);
                var xhat = decomposition.Decode(f, input);
                var x64 = x.to(ScalarType.Float64);
                sumX.add_(x64.sum(dim: 0));
                sumSquares += x64.square().sum().item<double>();
                sumError += (x64 - xhat.to(ScalarType.Float64)).square().sum().item<double>();
                var active = (f != 0).to(ScalarType.Float64);
                activeCount += active.sum().item<double>();
                firing.add_(active.sum(dim: 0));
                n += x.shape[0];
            }
        }
        if (n == 0) throw new MechanistInputException($"{source.Name}: no activations to evaluate.");
        double meanNormSquared = sumX.square().sum().item<double>() / ((double)n * n);
        double totalVariance = sumSquares - n * meanNormSquared;
        double fvu = totalVariance > 0 ? sumError / totalVariance : (sumError == 0 ? 0 : double.PositiveInfinity);
        double dead = (firing == 0).to(ScalarType.Float64).mean().item<double>();
        double dense = (firing > DenseFiringRate * n).to(ScalarType.Float64).mean().item<double>();
        double? mmcs = groundTruth is null ? null : ComputeMmcs(groundTruth, decomposition.DecoderDirections);
        var counts = firing.cpu().data<double>().ToArray();
        return new DecompositionMetrics(n, sumError / ((double)n * reference.Dimension), fvu, 1 - fvu,
            activeCount / n, dead, dense, mmcs)
        {
            DeadLatents = Enumerable.Range(0, counts.Length).Where(i => counts[i] == 0).ToList(),
        };
    }

    /// <summary>Mean over rows g_i of <paramref name="truth"/> of the maximum cosine similarity with any row of <paramref name="directions"/>.</summary>
    public static double ComputeMmcs(Tensor truth, Tensor directions)
    {
        if (truth.ndim != 2 || truth.shape[1] != directions.shape[1])
            throw new MechanistInputException(
                $"ground-truth directions have shape [{string.Join(", ", truth.shape)}]; expected [n, {directions.shape[1]}] to match the decoder.");
        using var scope = NewDisposeScope();
        var g = nn.functional.normalize(truth.to(ScalarType.Float64).cpu(), dim: 1);
        var dirs = nn.functional.normalize(directions.to(ScalarType.Float64).cpu(), dim: 1);
        return g.matmul(dirs.t()).max(1).values.mean().item<double>();
    }

    /// <summary>The metrics as name → value, in report order (MMCS only when computed).</summary>
    public IReadOnlyList<KeyValuePair<string, double>> Values()
    {
        var list = new List<KeyValuePair<string, double>>
        {
            new("samples", Samples), new("mse", Mse), new("fvu", Fvu), new("explained_variance", ExplainedVariance),
            new("l0", L0), new("dead_fraction", DeadFraction), new("dense_fraction", DenseFraction),
        };
        if (Mmcs is double m) list.Add(new("mmcs", m));
        return list;
    }
}
