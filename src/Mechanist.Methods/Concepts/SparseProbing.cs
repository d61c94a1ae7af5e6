using Mechanist.Concepts;
using static TorchSharp.torch;

namespace Mechanist.Methods.Concepts;

/// <summary>Accuracy of a probe on the k latents selected for a binary task.</summary>
public sealed record SparseProbeScore(int K, double Accuracy, int[] Latents);

/// <summary>
/// Sparse probing of one binary task (a concept class against the rest) over a decomposition's latents, and the
/// probe on the raw activations it is compared with.
/// </summary>
/// <param name="Sparse">One score per k: the held-out accuracy of a probe on the k selected latents.</param>
/// <param name="RawAccuracy">Held-out accuracy of the same probe family on all raw activation dimensions.</param>
/// <param name="BestLatent">The latent whose activation correlates most with the class indicator over all rows.</param>
/// <param name="BestCorrelation">That latent's Pearson correlation with the indicator (point-biserial).</param>
public sealed record SparseProbingResult(string Concept, string Class, IReadOnlyList<SparseProbeScore> Sparse, double RawAccuracy,
    int BestLatent, double BestCorrelation, long TrainRows, long TestRows);

/// <summary>
/// SAEBench's sparse probing (Karvonen et al. 2025; Gurnee et al. 2023): for a binary task (tokens of one concept
/// class against the rest, balanced by sampling as many negatives as positives), select the k latents with the
/// largest |mean activation on positives − mean on negatives| over the training rows, fit an L2 logistic probe on
/// those k latents, and score it on held-out sequences; compare with the same probe on the raw activations. A
/// decomposition that carries the concept in few latents gets near the raw probe's accuracy at small k.
/// </summary>
public static class SparseProbing
{
    public static SparseProbingResult Run(Tensor latents, Tensor raw, Concept concept, int classIndex, RowSplit split, IReadOnlyList<int> ks,
        double l2, int maxRows, int seed)
    {
        if (latents.shape[0] != concept.Rows || raw.shape[0] != concept.Rows)
            throw new MechanistInputException(
                $"concept '{concept.Name}' has {concept.Rows} labels but the activations have {raw.shape[0]} rows (latents {latents.shape[0]}); labels and activations must describe the same tokens.");
        if (ks.Count == 0 || ks.Any(k => k < 1)) throw new MechanistInputException("sparse probing needs k values of at least 1.");
        using var scope = NewDisposeScope();
        var indicator = concept.Labels.Select(l => l == classIndex ? 1L : 0L).ToArray();
        var (train, trainY) = RowSplit.Balanced(split.Train, indicator, maxRows, seed);
        var (test, testY) = RowSplit.Balanced(split.Test, indicator, maxRows, seed + 1);
        if (train.Length < 4 || test.Length < 2)
            throw new MechanistInputException(
                $"concept '{concept.Name}' class '{concept.Classes[classIndex]}': too few examples of each side for a balanced split ({train.Length} training, {test.Length} held-out rows).");
        var trainIdx = tensor(train);
        var testIdx = tensor(test);
        var yTrain = tensor(trainY);
        var yTest = tensor(testY);
        var zTrain = latents.index_select(0, trainIdx).to(ScalarType.Float64);
        var zTest = latents.index_select(0, testIdx).to(ScalarType.Float64);
        var order = TopLatents(zTrain, trainY, (int)latents.shape[1], signed: false);
        var scores = new List<SparseProbeScore>();
        foreach (var k in ks.Distinct().Order())
        {
            int kk = Math.Min(k, (int)latents.shape[1]);
            var chosen = order.Take(kk).ToArray();
            var cols = tensor(chosen);
            using var probe = SoftmaxRegression.Fit(zTrain.index_select(1, cols), yTrain, 2, l2);
            scores.Add(new SparseProbeScore(k, probe.Accuracy(zTest.index_select(1, cols), yTest), chosen.Select(c => (int)c).ToArray()));
        }
        using var rawProbe = SoftmaxRegression.Fit(raw.index_select(0, trainIdx), yTrain, 2, l2);
        double rawAccuracy = rawProbe.Accuracy(raw.index_select(0, testIdx), yTest);
        var (best, r) = BestLatent(latents, indicator);
        return new SparseProbingResult(concept.Name, concept.Classes[classIndex], scores, rawAccuracy, best, r, train.LongLength, test.LongLength);
    }

    /// <summary>
    /// The latent with the largest |Pearson r| between its activation and <paramref name="indicator"/> over all rows,
    /// and that r (a latent that never varies has r = 0).
    /// </summary>
    public static (int Latent, double Correlation) BestLatent(Tensor latents, long[] indicator)
    {
        using var scope = NewDisposeScope();
        var z = latents.to(ScalarType.Float64);
        var y = tensor(indicator).to(ScalarType.Float64);
        var zc = z - z.mean([0]);
        var yc = y - y.mean();
        var cov = yc.matmul(zc);
        var denom = zc.pow(2).sum(dim: 0).sqrt() * yc.pow(2).sum().sqrt();
        var r = where(denom.gt(1e-12), cov / denom.clamp_min(1e-300), zeros_like(cov));
        int best = (int)r.abs().argmax().item<long>();
        return (best, r[best].item<double>());
    }

    /// <summary>
    /// The k latents whose mean activation on rows with indicator 1 exceeds their mean on rows with indicator 0 the
    /// most (<paramref name="signed"/>), or differs from it the most in absolute value — SAEBench's selection.
    /// </summary>
    public static int[] TopLatents(Tensor latents, long[] indicator, int k, bool signed)
    {
        using var scope = NewDisposeScope();
        var z = latents.to(ScalarType.Float64);
        var y = tensor(indicator).to(ScalarType.Float64, z.device);
        double nPos = y.sum().item<double>(), nNeg = y.shape[0] - nPos;
        if (nPos == 0 || nNeg == 0) throw new MechanistInputException("latent selection needs rows of the class and rows of the others.");
        var diff = y.matmul(z) / nPos - (1 - y).matmul(z) / nNeg;
        var key = signed ? diff : diff.abs();
        return key.argsort(descending: true).narrow(0, 0, Math.Min(k, (int)key.shape[0])).data<long>().Select(i => (int)i).ToArray();
    }
}
