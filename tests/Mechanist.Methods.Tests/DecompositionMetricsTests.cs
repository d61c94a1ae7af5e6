using Mechanist.Decomposers;
using Mechanist.Methods.Evaluation;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

/// <summary>Every metric against a computation by hand in plain C# loops.</summary>
public class DecompositionMetricsTests
{
    static readonly float[,] X =
    {
        { 1.0f, 2.0f, 0.5f },
        { -1.0f, 0.0f, 3.0f },
        { 0.5f, -2.0f, 1.0f },
        { 2.0f, 1.0f, -1.5f },
        { 0.0f, 0.5f, 0.25f },
    };

    // A hand-made standard SAE: 4 latents, 3 inputs.
    static readonly float[,] WEnc = { { 1f, 0f, -1f, 0.5f }, { 0f, 1f, 0.5f, 0f }, { 0.5f, 0f, 0f, 0f } };
    static readonly float[] BEnc = { 0f, -0.5f, 0.1f, -100f }; // latent 3 never fires
    static readonly float[,] WDec = { { 1f, 0f, 0.2f }, { 0f, 1f, 0f }, { -0.5f, 0.5f, 0f }, { 3f, 3f, 3f } };
    static readonly float[] BDec = { 0.1f, -0.1f, 0.2f };

    static StandardSae Sae() => new(tensor(WEnc), tensor(BEnc), tensor(WDec), tensor(BDec));

    [Fact]
    public void Fvu_mse_l0_dead_and_dense_match_a_hand_computation()
    {
        int n = X.GetLength(0), d = X.GetLength(1), k = BEnc.Length;
        double[] mean = new double[d];
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) mean[j] += X[i, j] / (double)n;
        double error = 0, total = 0, active = 0;
        var fires = new int[k];
        for (int i = 0; i < n; i++)
        {
            var f = new double[k];
            for (int l = 0; l < k; l++)
            {
                double pre = BEnc[l];
                for (int j = 0; j < d; j++) pre += (X[i, j] - BDec[j]) * WEnc[j, l];
                f[l] = Math.Max(0, pre);
                if (f[l] != 0) { active++; fires[l]++; }
            }
            for (int j = 0; j < d; j++)
            {
                double xhat = BDec[j];
                for (int l = 0; l < k; l++) xhat += f[l] * WDec[l, j];
                error += (X[i, j] - xhat) * (X[i, j] - xhat);
                total += (X[i, j] - mean[j]) * (X[i, j] - mean[j]);
            }
        }
        using var sae = Sae();
        using var data = new ActivationMatrix("hand", tensor(X));
        var m = DecompositionMetrics.Compute(sae, data, batchSize: 2); // batches of 2 exercise the streaming sums
        Assert.Equal(error / total, m.Fvu, 5);
        Assert.Equal(1 - error / total, m.ExplainedVariance, 5);
        Assert.Equal(error / (n * d), m.Mse, 5);
        Assert.Equal(active / n, m.L0, 10);
        Assert.Equal(fires.Count(c => c == 0) / (double)k, m.DeadFraction, 10);
        Assert.Equal(fires.Count(c => c > 0.1 * n) / (double)k, m.DenseFraction, 10);
        Assert.Equal(0.25, m.DeadFraction); // latent 3, by construction
        Assert.Equal(n, m.Samples);
    }

    [Fact]
    public void Mmcs_matches_a_hand_computation()
    {
        float[,] truth = { { 1f, 0f, 0f }, { 1f, 1f, 0f }, { 0f, 0f, -2f } };
        double expected = 0;
        for (int i = 0; i < 3; i++)
        {
            double best = double.NegativeInfinity;
            for (int l = 0; l < 4; l++)
            {
                double dot = 0, a = 0, b = 0;
                for (int j = 0; j < 3; j++) { dot += truth[i, j] * WDec[l, j]; a += truth[i, j] * truth[i, j]; b += WDec[l, j] * WDec[l, j]; }
                best = Math.Max(best, dot / Math.Sqrt(a * b));
            }
            expected += best / 3;
        }
        using var sae = Sae();
        using var data = new ActivationMatrix("hand", tensor(X));
        var m = DecompositionMetrics.Compute(sae, data, tensor(truth));
        Assert.Equal(expected, m.Mmcs!.Value, 6);
    }

    [Fact]
    public void Mismatched_dimensions_are_input_errors()
    {
        using var sae = Sae();
        using var data = new ActivationMatrix("wide.npy", zeros(4, 5));
        var e = Assert.Throws<MechanistInputException>(() => DecompositionMetrics.Compute(sae, data));
        Assert.Contains("d_in = 3", e.Message);
        Assert.Contains("wide.npy", e.Message);
        Assert.Contains("dimension 5", e.Message);
        Assert.Throws<MechanistInputException>(() => DecompositionMetrics.ComputeMmcs(zeros(2, 4), sae.DecoderDirections));
    }

    [Fact]
    public void Every_metric_has_a_definition()
    {
        using var sae = Sae();
        using var data = new ActivationMatrix("hand", tensor(X));
        var m = DecompositionMetrics.Compute(sae, data, tensor(new float[,] { { 1f, 0f, 0f } }));
        foreach (var (name, _) in m.Values())
            Assert.False(string.IsNullOrWhiteSpace(DecompositionMetrics.Definitions[name]), name);
    }
}
