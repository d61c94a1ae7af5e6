using Mechanist.Attribution;
using Mechanist.Decomposers;
using Mechanist.Host;
using Mechanist.Host.Discovery;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Attribution;

/// <summary>Every registered attribution method leaves no hook behind, after success and after a throwing metric.</summary>
public class HookHygieneTests
{
    public static TheoryData<string> AttributionMethods()
    {
        using var host = MechanistHost.Create([]);
        var data = new TheoryData<string>();
        foreach (var e in host.Catalog.OfKind(MethodKind.Attribution)) data.Add(e.Id);
        return data;
    }

    static AttributionContext Context(MechanistHost host, string id, SmoothModel model, Decomposition sae, Func<Tensor, Tensor> metric)
    {
        var entry = host.Catalog.Resolve(id, MethodKind.Attribution);
        var x = randn(3, 4, ScalarType.Float64, generator: new Generator(1));
        var corrupted = randn(3, 4, ScalarType.Float64, generator: new Generator(2));
        return new AttributionContext
        {
            Model = model, Input = x, Baseline = corrupted, Metric = metric, MetricDescription = "output 0",
            // Input-space methods take no site; every other method attributes to the MLP's output.
            Site = id == "integrated-gradients" ? null : "mlp.hook_post",
            Decomposition = sae, Options = MethodCatalog.BindOptions(entry, new Dictionary<string, string>()),
        };
    }

    [Theory]
    [MemberData(nameof(AttributionMethods))]
    public void No_hook_is_left_after_success_or_a_throwing_metric(string id)
    {
        using var host = MechanistHost.Create([]);
        var entry = host.Catalog.Resolve(id, MethodKind.Attribution);
        var method = MethodCatalog.Create<AttributionMethod>(entry, host.Services);
        using var model = new SmoothModel();
        using var sae = StandardSae.FromSignedLinear(eye(6), eye(6), zeros(6));
        using var scope = NewDisposeScope();

        int callsOnSuccess = 0;
        var result = method.Attribute(Context(host, id, model, sae, o => { callsOnSuccess++; return o.select(1, 0); }));
        Assert.Equal(0, model.ActiveHookCount);
        Assert.True(isfinite(result.Scores).all().item<bool>(), "finite scores");
        Assert.False(string.IsNullOrEmpty(result.ScoreDefinition), "the result states what a score is");
        Assert.Equal("output 0", result.Metric);

        // The metric throws on its first call, then on its last (after hooks were added and runs were made).
        foreach (var throwOn in new[] { 1, callsOnSuccess }.Distinct())
        {
            int calls = 0;
            var e = Assert.ThrowsAny<Exception>(() => method.Attribute(Context(host, id, model, sae, o =>
                ++calls >= throwOn ? throw new InvalidOperationException("metric failed") : o.select(1, 0))));
            Assert.Contains("metric failed", e.ToString());
            Assert.Equal(0, model.ActiveHookCount);
        }
    }
}
