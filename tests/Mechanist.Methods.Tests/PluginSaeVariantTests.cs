using System.Text.Json.Nodes;
using Mechanist.Decomposers;
using Mechanist.Host;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Methods.Evaluation;
using Mechanist.Models.Tasks;
using Mechanist.Testing;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

/// <summary>
/// A third-party SAE variant (tests/Fixtures/Mechanist.TestPlugins.SaeVariant: TopK with a learnt threshold and its own
/// SAELens architecture 'topk_threshold'), loaded only as a plugin: it derives from the same base as the built-in
/// variants, trains through the same trainer (checkpoints and resumption, AuxK), saves in SAELens layout and loads back
/// through the architecture it registers, and evaluates beside the built-in it extends.
/// </summary>
public class PluginSaeVariantTests(ITestOutputHelper output)
{
    const string Id = "test.sae.topk-threshold";
    static string Plugin => Repo.Plugin("Mechanist.TestPlugins.SaeVariant");

    static readonly Lazy<(ActivationMatrix Data, Tensor Directions)> Superposition = new(() =>
    {
        var (x, directions) = SuperpositionData.Generate(new SuperpositionSettings(Features: 64, Dimension: 32, ActivePerSample: 5, Samples: 6_000, Seed: 1));
        return (new ActivationMatrix("superposition-64-in-32", x), directions);
    });

    static Dictionary<string, string> Settings(params string[] pairs) => pairs.Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

    static Decomposition Fit(MechanistHost host, string method, IReadOnlyDictionary<string, string> settings, int seed = 3,
        CancellationToken cancellation = default, IProgress<ProgressReport>? progress = null)
    {
        var entry = host.Catalog.Resolve(method, MethodKind.Decomposer);
        return MethodCatalog.Create<Decomposer>(entry, host.Services).Fit(new DecomposeContext
        {
            Activations = Superposition.Value.Data, Options = MethodCatalog.BindOptions(entry, settings), Seed = seed,
            CancellationToken = cancellation, Progress = progress, HookName = "blocks.0.hook_resid_post",
        });
    }

    [Fact]
    public void Loads_as_a_plugin_and_passes_the_conformance_suite_of_the_built_ins()
    {
        using var host = MethodHost.Create([Plugin]);
        Assert.Empty(host.LoadProblems);
        Conformance.Verify(host, Id, new ConformanceOptions { Options = new Dictionary<string, string> { ["steps"] = "100", ["k"] = "4" } });
    }

    /// <summary>
    /// On 64 known features in 32 dimensions, the plugin variant recovers them as the built-in TopK SAE does with the same
    /// budget; its folder names its own architecture, holds its threshold, and loads back (through the plugin's
    /// [SaeArchitecture] loader) to the plugin's type with the same metrics.
    /// </summary>
    [Fact]
    public void Trains_saves_in_its_own_architecture_reloads_and_evaluates_like_the_built_in()
    {
        var (data, directions) = Superposition.Value;
        using var host = MechanistHost.Create([Plugin]);
        Assert.Empty(host.Catalog.LoadFindings);
        Assert.False(host.Catalog.Resolve(Id, MethodKind.Decomposer).IsBuiltIn);
        var settings = Settings("d_sae=64", "k=4", "steps=300", "batch_size=256", "lr=0.003", "dead_after_rows=2000");
        using var plugin = Fit(host, Id, settings);
        using var builtIn = Fit(host, "sae.topk", settings);

        // Its step is sae.topk's plus a threshold that training never reads: the same trainer gives the same weights, bit for bit.
        foreach (var name in new[] { "W_enc", "b_enc", "W_dec", "b_dec" })
            Assert.True(TensorAssert.Identical(builtIn.StateDict()[name], plugin.StateDict()[name]), $"{name} differs from sae.topk's");
        Assert.Equal("topk_threshold", plugin.Architecture);
        Assert.Equal("Mechanist.TestPlugins.SaeVariant", plugin.GetType().Assembly.GetName().Name);
        double threshold = plugin.StateDict()["threshold"].max().item<float>();
        Assert.True(threshold > 0, $"threshold {threshold}");

        using var temp = new TempDir();
        DecompositionFolder.Save(temp.File("sae"), plugin);
        var cfg = JsonNode.Parse(File.ReadAllText(temp.File("sae/cfg.json")))!;
        Assert.Equal("topk_threshold", (string?)cfg["architecture"]);
        Assert.Equal(4, (int?)cfg["k"]);
        using var loaded = DecompositionFolder.Load(temp.File("sae"));
        // The plugin's type (from the copy of the plugin loaded last in this process: each host loads its own).
        Assert.Equal(plugin.GetType().FullName, loaded.GetType().FullName);
        Assert.Equal("Mechanist.TestPlugins.SaeVariant", loaded.GetType().Assembly.GetName().Name);

        var p = DecompositionMetrics.Compute(loaded, data, directions);
        var b = DecompositionMetrics.Compute(builtIn, data, directions);
        var before = DecompositionMetrics.Compute(plugin, data, directions);
        Assert.Equal(before.Fvu, p.Fvu);
        // Ground truth: the features are recovered; the threshold only drops activations TopK keeps, at little cost.
        double pm = p.Mmcs!.Value, bm = b.Mmcs!.Value;
        output.WriteLine($"plugin: fvu {p.Fvu:F4} l0 {p.L0:F2} mmcs {pm:F3} threshold {threshold:F4}; sae.topk: fvu {b.Fvu:F4} l0 {b.L0:F2} mmcs {bm:F3}");
        Assert.True(pm > 0.6 && Math.Abs(pm - bm) < 0.05, $"mmcs plugin {pm:F3}, sae.topk {bm:F3}");
        Assert.True(p.L0 <= b.L0 && p.L0 > 1, $"l0 plugin {p.L0:F2}, sae.topk {b.L0:F2}");
        Assert.True(p.ExplainedVariance > 0.5 && p.Fvu < b.Fvu + 0.05, $"fvu plugin {p.Fvu:F3}, sae.topk {b.Fvu:F3}");
    }

    /// <summary>The shared trainer's checkpoints carry the plugin's own state (its threshold buffer): a run stopped after its
    /// checkpoint at step 20 resumes to exactly the weights and threshold of a run never interrupted.</summary>
    [Fact]
    public void A_run_stopped_half_way_resumes_from_its_checkpoint_to_the_same_weights()
    {
        using var host = MechanistHost.Create([Plugin]);
        using var temp = new TempDir();
        string[] common = ["d_sae=64", "k=4", "steps=40", "batch_size=96", "shuffle_buffer=3"];
        using var uninterrupted = Fit(host, Id, Settings(common));
        var checkpointed = Settings([.. common, "checkpoint_every=10", $"checkpoint_dir={temp.File("ckpt")}"]);
        using var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => Fit(host, Id, checkpointed, cancellation: cts.Token,
            progress: new SaeTraining.SyncProgress(r => { if (r.Step >= 25) cts.Cancel(); })));
        Assert.Equal(["step-000000020"], Directory.GetDirectories(temp.File("ckpt")).Select(Path.GetFileName));
        using var resumed = Fit(host, Id, checkpointed);
        foreach (var (name, t) in uninterrupted.StateDict())
            Assert.True(TensorAssert.Identical(t, resumed.StateDict()[name]), $"{name} differs after resuming");
    }
}
