using Mechanist.Attribution;
using Mechanist.Host.Discovery;
using Mechanist.Host.Models;
using Mechanist.Host.Running;
using Mechanist.Models;
using static TorchSharp.torch;

namespace Mechanist.Testing;

/// <summary>
/// An attribution method: in a check of <see cref="TinyModel"/>, attributes the behaviour (the logit of the right answer,
/// with corrupted inputs as the reference) at a site (or through a spliced decomposition) without throwing or leaving a
/// hook (the host's post-conditions), gives scores and their definition, and the same summary twice with one seed. A
/// method that attributes to a continuous input (integrated gradients on an MLP) runs instead on
/// <see cref="ConformanceOptions.ModelFolder"/> with <see cref="ConformanceOptions.ModelInput"/> and the first output unit
/// as its metric: finite scores of the input's shape, the same twice, no hook left.
/// </summary>
internal static class AttributionConformance
{
    public static void Verify(MethodHost host, MethodEntry entry, ConformanceOptions options, Failures f)
    {
        BoundMethod? bound = null;
        f.Check("its options bind", () => bound = MethodRunner.Bind(entry, options.Options));
        if (options.ModelFolder is not null)
        {
            if (bound is not null) VerifyOnInput(host, entry, bound, options, f);
            return;
        }
        var config = Subject.ForAttribution(entry.Id, options);
        string? first = null;
        f.Check($"it attributes a behaviour of {nameof(TinyModel)} ({(options.AttributionDecomposition ? "through a spliced decomposition" : $"at {options.AttributionSite ?? "hook_embed"}")})", () =>
        {
            var result = CheckRun.Run(host, config);
            var failed = result.Findings.Where(x => x.Finding.Location.Method == entry.Id).ToList();
            Failures.That(failed.Count == 0, string.Join("; ", failed.Select(x => $"{x.Id}: {x.Finding.Message}")));
            var summary = result.Attributions.SingleOrDefault();
            Failures.That(summary is not null, "it produced no result");
            Failures.That(!string.IsNullOrWhiteSpace((string?)summary!["score_definition"]), "its result does not define its scores (ScoreDefinition)");
            first = summary.ToJsonString();
        });
        if (first is null) return;
        f.Check("two runs with seed 0 agree", () =>
        {
            var second = CheckRun.Run(host, config).Attributions.SingleOrDefault()?.ToJsonString();
            Failures.That(second == first, $"the results differ:{Environment.NewLine}    {first}{Environment.NewLine}    {second}");
        });
    }

    static void VerifyOnInput(MethodHost host, MethodEntry entry, BoundMethod bound, ConformanceOptions options, Failures f)
    {
        var runner = MethodRunner.For(host.Host);
        using var model = ModelFolder.Load(options.ModelFolder!, host.Host.Catalog, host.Host.Services, CPU, options.Seed);
        using var input = options.ModelInput?.Invoke(model)
            ?? throw new VerificationException($"give the input {entry.Id} attributes on {options.ModelFolder} (ConformanceOptions.ModelInput)");
        AttributionContext Context() => new()
        {
            Model = model, Input = input, Metric = output => output.reshape(output.shape[0], -1).select(1, 0),
            MetricDescription = "the first output unit", Options = bound.Options, Seed = options.Seed,
        };
        Tensor? first = null;
        try
        {
            f.Check($"it attributes the first output of {model.ModelType} to its input", () =>
            {
                var result = runner.Attribute(bound, Context());
                first = result.Scores.detach().clone();
                Failures.That(isfinite(first).all().item<bool>(), "its scores hold NaN or infinity");
                Failures.That(first.shape.SequenceEqual(input.shape), $"its scores are {Tensors.Shape(first)}, not the input's {Tensors.Shape(input)}");
                Failures.That(!string.IsNullOrWhiteSpace(result.ScoreDefinition), "its result does not define its scores (ScoreDefinition)");
                Failures.That(model.ActiveHookCount == 0, $"{model.ActiveHookCount} hook(s) left on the model");
            });
            if (first is null) return;
            f.Check($"two runs with seed {options.Seed} agree bit for bit", () =>
            {
                using var second = runner.Attribute(bound, Context()).Scores;
                Failures.That(Tensors.Identical(first, second), $"the scores differ (max |Δ| {Tensors.MaxDifference(first, second):G4})");
            });
        }
        finally
        {
            first?.Dispose();
        }
    }
}
