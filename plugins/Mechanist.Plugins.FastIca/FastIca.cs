using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Options;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Mechanist.Plugins.FastIca;

/// <summary>
/// FastICA (Hyvärinen &amp; Oja 2000) as a dictionary: centre, whiten with PCA to <c>components</c> dimensions, then
/// run the symmetric (parallel) fixed-point iteration to find the rotation whose outputs are maximally
/// non-Gaussian. Encoder rows are the unmixing matrix U = W·K, decoder rows the columns of the mixing matrix
/// A = pinv(U), saved as a SAELens <c>standard</c> SAE with 2·components latents (each signed source split into its
/// positive and negative half), which reconstructs exactly like the linear projection onto the top principal
/// subspace. Components are ordered by decreasing variance they contribute to the activations (‖a_i‖², the
/// sources having unit variance), ties by index; each decoder row's largest-magnitude entry is positive.
/// </summary>
[Decomposer("fastica",
    Title = "Independent component analysis (FastICA)",
    Summary = "PCA whitening (float64) followed by the symmetric FastICA fixed-point iteration (logcosh, exp or cube contrast). " +
              "Unmixing rows as encoder, mixing columns as decoder; signed codes stored as +/- latent pairs of a standard SAE; d_sae = 2 x components.",
    Reference = "Hyvärinen & Oja 2000, Independent component analysis: algorithms and applications",
    HelpLink = "docs/methods/fastica.md")]
public sealed class FastIca : Decomposer<FastIcaOptions>
{
    /// <summary>Eigenvalues of the covariance at or below this fraction of the largest count as zero.</summary>
    public const double RankTolerance = 1e-10;

    protected override Decomposition Fit(DecomposeContext context, FastIcaOptions options)
    {
        var source = context.Activations;
        int d = source.Dimension, k = options.Components;
        var cancellation = context.CancellationToken;
        if (k > d)
            throw new MechanistInputException(
                $"option 'components' of method 'fastica' is {k}, more than the activation dimension {d} of {source.Name}.");

        using var scope = NewDisposeScope();
        using var _ = no_grad();

        // 1. Centre and whiten: K = Λ^(-1/2) Eᵀ over the top-k eigenpairs of the covariance.
        var (mean, covariance) = ActivationStatistics.MeanAndCovariance(source, options.BatchSize, context.Device, cancellation);
        var (eigenvalues, eigenvectors) = linalg.eigh(covariance);
        double largest = eigenvalues[d - 1].item<double>();
        var values = eigenvalues.cpu().data<double>().ToArray();
        int rank = largest > 0 ? values.Count(v => v > RankTolerance * largest) : 0;
        if (rank < k)
            throw new MechanistInputException(
                $"option 'components' of method 'fastica' is {k}, but the activations in {source.Name} span only {rank} " +
                $"dimension(s) (covariance eigenvalues above {RankTolerance:g} of the largest); whitening needs components <= {rank}.");
        // eigh sorts ascending: take the last k pairs, largest first.
        var topValues = eigenvalues.narrow(0, d - k, k).flip(0);
        var topVectors = eigenvectors.narrow(1, d - k, k).flip(1);
        var whitening = (topVectors * topValues.rsqrt().unsqueeze(0)).t().contiguous(); // [k, d]

        // 2. The whitened data Z = (X − mean) Kᵀ, materialised [N, k] in float64.
        var chunks = new List<Tensor>();
        foreach (var batch in source.ReadBatches(options.BatchSize))
        {
            cancellation.ThrowIfCancellationRequested();
            using var step = NewDisposeScope();
            var x = batch.to(ScalarType.Float64, context.Device);
            batch.Dispose();
            chunks.Add((x - mean).matmul(whitening.t()).MoveToOuterDisposeScope());
        }
        var z = cat(chunks, 0);
        foreach (var chunk in chunks) chunk.Dispose();
        long n = z.shape[0];

        // 3. Symmetric FastICA on Z.
        Tensor w;
        using (var generator = context.CreateGenerator())
        using (var init = NewDisposeScope())
        {
            var w0 = randn(k, k, dtype: ScalarType.Float64, device: context.Device, generator: generator);
            w = SymmetricDecorrelation(w0).MoveToOuterDisposeScope();
        }
        double change = double.PositiveInfinity;
        int iterations = 0;
        while (iterations < options.MaxIterations)
        {
            cancellation.ThrowIfCancellationRequested();
            using var step = NewDisposeScope();
            var gz = zeros(k, k, ScalarType.Float64, context.Device);
            var gPrimeSum = zeros(k, ScalarType.Float64, context.Device);
            for (long start = 0; start < n; start += options.BatchSize)
            {
                using var inner = NewDisposeScope();
                var zc = z.narrow(0, start, Math.Min(options.BatchSize, n - start));
                var y = zc.matmul(w.t());
                var (g, gPrime) = Contrast(y, options);
                gz.add_(g.t().matmul(zc));
                gPrimeSum.add_(gPrime.sum(dim: 0));
            }
            var wNew = SymmetricDecorrelation(gz / n - (gPrimeSum / n).unsqueeze(1) * w);
            change = ((wNew * w).sum(dim: 1).abs() - 1).abs().max().item<double>();
            var old = w;
            w = wNew.MoveToOuterDisposeScope();
            old.Dispose();
            iterations++;
            context.Progress?.Report(new ProgressReport(iterations, options.MaxIterations,
                new Dictionary<string, double> { ["change"] = change }));
            if (change < options.Tolerance) break;
        }
        if (!(change < options.Tolerance))
            context.Logger.LogWarning(
                "fastica did not converge in {Iterations} iterations: last change {Change} is above tolerance {Tolerance}; raise max_iterations or tolerance.",
                iterations, change, options.Tolerance);

        // 4. Unmixing U = W·K (encoder rows), mixing A = pinv(U) (decoder rows are its columns).
        var unmixing = w.matmul(whitening);           // [k, d]
        var mixing = linalg.pinv(unmixing).t();       // [k, d]

        // Signs: each decoder row's largest-magnitude entry positive; the encoder row follows.
        var index = mixing.abs().argmax(1, keepdim: true);
        var signs = mixing.gather(1, index).sign();
        signs = where(signs == 0, ones_like(signs), signs);
        mixing = mixing * signs;
        unmixing = unmixing * signs;

        // Order: decreasing variance contributed to the activations, ‖a_i‖² (sources have unit variance), ties by index.
        var contributed = mixing.square().sum(dim: 1).cpu().data<double>().ToArray();
        var order = Enumerable.Range(0, k).OrderByDescending(i => contributed[i]).ThenBy(i => i).Select(i => (long)i).ToArray();
        var orderTensor = tensor(order, device: context.Device);
        mixing = mixing.index_select(0, orderTensor);
        unmixing = unmixing.index_select(0, orderTensor);

        return StandardSae.FromSignedLinear(unmixing.to(ScalarType.Float32), mixing.to(ScalarType.Float32), mean.to(ScalarType.Float32));
    }

    /// <summary>W ← (W Wᵀ)^(-1/2) W, through the eigendecomposition of W Wᵀ.</summary>
    static Tensor SymmetricDecorrelation(Tensor w)
    {
        using var scope = NewDisposeScope();
        var (s, u) = linalg.eigh(w.matmul(w.t()));
        s = s.clamp_min(1e-300);
        return (u * s.rsqrt().unsqueeze(0)).matmul(u.t()).matmul(w).MoveToOuterDisposeScope();
    }

    /// <summary>The contrast's derivative g and its second derivative g′, elementwise.</summary>
    static (Tensor G, Tensor GPrime) Contrast(Tensor y, FastIcaOptions options)
    {
        switch (options.Fun)
        {
            case IcaFunction.Logcosh:
            {
                var t = (y * options.Alpha).tanh();
                return (t, (1 - t.square()) * options.Alpha);
            }
            case IcaFunction.Exp:
            {
                var y2 = y.square();
                var e = (y2 * -0.5).exp();
                return (y * e, (1 - y2) * e);
            }
            case IcaFunction.Cube:
                return (y.pow(3), y.square() * 3);
            default:
                throw new MechanistInputException($"option 'fun' of method 'fastica' has unknown value {options.Fun}.");
        }
    }
}

/// <summary>The contrast function G whose expectation FastICA maximises the non-Gaussianity of.</summary>
public enum IcaFunction
{
    /// <summary>G(u) = log cosh(αu) / α, g(u) = tanh(αu): a good general-purpose choice.</summary>
    Logcosh,

    /// <summary>G(u) = −exp(−u²/2), g(u) = u·exp(−u²/2): robust for highly super-Gaussian sources.</summary>
    Exp,

    /// <summary>G(u) = u⁴/4, g(u) = u³: kurtosis; fast but sensitive to outliers.</summary>
    Cube,
}

public sealed record FastIcaOptions : MethodOptions
{
    [Option("Number of independent components (the SAE has twice as many latents); at most the activation dimension and the covariance rank.")]
    public int Components { get; init; } = 16;

    [Option("Maximum number of fixed-point iterations; a warning is logged if the iteration has not converged by then.")]
    public int MaxIterations { get; init; } = 200;

    [Option("Convergence threshold on max |1 - |diag(W_new W_old^T)||.")]
    public double Tolerance { get; init; } = 1e-4;

    [Option("Contrast function: logcosh (general purpose), exp (super-Gaussian sources, robust) or cube (kurtosis).")]
    public IcaFunction Fun { get; init; } = IcaFunction.Logcosh;

    [Option("Scale alpha of the logcosh contrast, g(u) = tanh(alpha u); in [1, 2].")]
    public double Alpha { get; init; } = 1.0;

    [Option("Rows per batch while reading activations and during each iteration.")]
    public int BatchSize { get; init; } = 4096;

    public override IEnumerable<OptionError> Validate()
    {
        if (Components < 1) yield return new("components", $"must be at least 1, got {Components}");
        if (MaxIterations < 1) yield return new("max_iterations", $"must be at least 1, got {MaxIterations}");
        if (!(Tolerance > 0) || double.IsInfinity(Tolerance)) yield return new("tolerance", $"must be a positive number, got {Tolerance}");
        if (!Enum.IsDefined(Fun)) yield return new("fun", $"must be one of logcosh, exp, cube, got {Fun}");
        if (!(Alpha >= 1 && Alpha <= 2)) yield return new("alpha", $"must be in [1, 2], got {Alpha}");
        if (BatchSize < 1) yield return new("batch_size", $"must be at least 1, got {BatchSize}");
    }
}
