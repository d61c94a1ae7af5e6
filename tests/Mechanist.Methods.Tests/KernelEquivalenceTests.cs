using System.Text.Json.Nodes;
using Mechanist.Decomposers;
using Mechanist.Host.Formats;
using Mechanist.Sae;
using Mechanist.Models.Tasks;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

/// <summary>
/// Training with the CPU kernels (blocked TopK encoder, sparse gather/scatter, fused optimiser, one-pass dense
/// activations) against training with libtorch ops only (the path a GPU runs, and the trainer's reference) for the
/// same seed: the same weights within float tolerance and the same SAELens folder. Dead latents appear after two
/// steps, so AuxK and its candidates are part of the comparison.
/// </summary>
public class KernelEquivalenceTests
{
    static readonly Lazy<ActivationMatrix> Data = new(() =>
    {
        var (x, _) = SuperpositionData.Generate(new SuperpositionSettings(Features: 96, Dimension: 24, ActivePerSample: 4, Samples: 4000,
            Correlated: true, Seed: 4));
        return new ActivationMatrix("kernel-equivalence", x);
    });

    public static TheoryData<string, string> Cases() => new()
    {
        { "sae.topk", "d_sae=384;batch_size=64;k=3;dead_after_rows=192" },
        { "sae.batchtopk", "d_sae=384;batch_size=64;k=3;dead_after_rows=192" },
        { "sae.matryoshka", "d_sae=384;batch_size=64;k=3;dead_after_rows=192;matryoshka_widths=32,128" },
        { "sae.gated", "" },
        { "sae.jumprelu", "" },
        { "sae.relu", "target_l0=5" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Kernels_train_to_the_weights_of_libtorch_ops(string method, string extra)
    {
        var settings = new Dictionary<string, string> { ["d_sae"] = "96", ["steps"] = "24", ["batch_size"] = "160", ["shuffle_buffer"] = "2" };
        foreach (var pair in extra.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2))) settings[pair[0]] = pair[1];
        using var fast = SaeTraining.Fit(method, Data.Value, settings, seed: 6);
        Decomposition reference;
        using (TrainingKernels.TorchOpsOnly()) reference = SaeTraining.Fit(method, Data.Value, settings, seed: 6);
        using var _ = reference;

        Assert.True(fast.Training.TryGetValue("final_dead_fraction", out var dead) || method is "sae.gated" or "sae.jumprelu" or "sae.relu");
        if (method.Contains("topk") || method.Contains("matryoshka"))
            Assert.True((double)dead! > 0, $"{method}: no dead latents, AuxK was not exercised");
        // Float rounding differs between the paths (summation order, fused multiply-adds). Adam divides each gradient
        // by its running norm, so a coordinate whose gradient is nearly zero can turn a rounding difference into a
        // step: the tolerance is 1e-4 of the weights' scale plus 1% of the farthest Adam can move a weight (lr per step).
        double movement = 0.01 * 1e-3 * 24;
        foreach (var (name, expected) in reference.StateDict())
        {
            var actual = fast.StateDict()[name];
            double scale = expected.abs().max().item<float>();
            double diff = (actual - expected).abs().max().item<float>();
            Assert.True(diff <= 1e-4 * scale + movement, $"{method}: {name} differs by {diff} (scale {scale})");
        }

        using var temp = new TempDir();
        DecompositionFolder.Save(temp.File("fast"), fast);
        DecompositionFolder.Save(temp.File("reference"), reference);
        var fastCfg = JsonNode.Parse(File.ReadAllText(temp.File("fast/cfg.json")))!.AsObject();
        var referenceCfg = JsonNode.Parse(File.ReadAllText(temp.File("reference/cfg.json")))!.AsObject();
        // The training record holds the last batch's loss terms (floats); everything else is the same text.
        fastCfg.Remove("training");
        referenceCfg.Remove("training");
        Assert.Equal(referenceCfg.ToJsonString(), fastCfg.ToJsonString());
        using var loaded = DecompositionFolder.Load(temp.File("fast"));
        foreach (var (name, expected) in reference.StateDict())
            Assert.True((loaded.StateDict()[name] - expected).abs().max().item<float>() <= 1e-4 * expected.abs().max().item<float>() + movement, $"{method}: saved {name}");
    }
}
