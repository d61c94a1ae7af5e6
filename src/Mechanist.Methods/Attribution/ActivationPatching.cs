using System.Globalization;
using Mechanist.Attribution;
using Mechanist.Discovery;
using Mechanist.Options;
using static Mechanist.Methods.Attribution.AttributionCore;
using static TorchSharp.torch;

namespace Mechanist.Methods.Attribution;

/// <summary>
/// Activation patching, the causal ground truth: for every unit (site, position or element) run the corrupted
/// input with that unit set to its clean value (denoising; or the reverse, noising) and record how the metric moves.
/// Units are batched: several patched copies of the batch run in one forward pass.
/// </summary>
[AttributionMethod("activation-patching",
    Title = "Activation patching",
    Summary = "The causal effect of each unit (a whole site, one position, or one element) on the metric: denoising runs the corrupted input with the unit's clean activation patched in, score = M(patched) − M(corrupted); noising patches the corrupted activation into the clean run, score = M(patched) − M(clean). One forward pass per unit (several units per batched pass). The ground truth attribution patching approximates.",
    Reference = "Meng et al. 2022, Locating and Editing Factual Associations in GPT (causal tracing); Heimersheim & Nanda 2024, How to use and interpret activation patching.",
    HelpLink = "docs/methods/activation-patching.md")]
public sealed class ActivationPatching : AttributionMethod<ActivationPatchingOptions>
{
    protected override AttributionResult Attribute(AttributionContext context, ActivationPatchingOptions options)
    {
        var corrupted = RequireBaseline(context, "activation-patching");
        var sites = SitesOf(context);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = context.Model;
        var clean = context.Input;
        long batch = BatchOf(clean);
        var cleanCache = Cache(model, clean, sites, out var cleanOut);
        var corruptCache = Cache(model, corrupted, sites, out var corruptOut);
        var mClean = Metric(context, cleanOut, batch);
        var mCorrupt = Metric(context, corruptOut, batch);
        bool denoise = options.Direction == PatchDirection.Denoising;
        var runInput = denoise ? corrupted : clean;
        var mBase = denoise ? mCorrupt : mClean;

        var perSite = new List<(PatchingUnits, Tensor)>();
        foreach (var site in sites)
        {
            var source = denoise ? cleanCache[site] : corruptCache[site];
            var units = PatchingUnits.For(site, options.Granularity, source);
            var scores = zeros(batch, units.Count, mBase.dtype, mBase.device);
            for (int first = 0; first < units.Count; first += options.UnitsPerPass)
            {
                context.CancellationToken.ThrowIfCancellationRequested();
                using var chunkScope = NewDisposeScope();
                int count = Math.Min(options.UnitsPerPass, units.Count - first);
                var m = PatchedMetric(context, runInput, site, source, units.Masks(first, count, source.device), count, batch);
                scores.narrow(1, first, count).copy_((m.view(count, batch) - mBase.unsqueeze(0)).t());
            }
            perSite.Add((units, scores));
        }
        var (all, labels, parts) = PatchingUnits.Join(perSite);
        var settings = PatchingUnits.Describe(options.Granularity, options.Direction, sites);
        settings["units_per_pass"] = options.UnitsPerPass.ToString(CultureInfo.InvariantCulture);
        return new AttributionResult(all.MoveToOuterDisposeScope(), context.MetricDescription)
        {
            ScoreDefinition = denoise
                ? "M(corrupted run with the unit set to its clean activation) − M(corrupted run)"
                : "M(clean run with the unit set to its corrupted activation) − M(clean run)",
            UnitLabels = labels,
            Parts = parts.ToDictionary(kv => kv.Key, kv => kv.Value.MoveToOuterDisposeScope()),
            MetricValue = mClean.MoveToOuterDisposeScope(),
            ReferenceMetricValue = mCorrupt.MoveToOuterDisposeScope(),
            Settings = settings,
        };
    }

    /// <summary>The metric of <paramref name="count"/> copies of the batch, copy u patched with mask u: [count · batch].</summary>
    static Tensor PatchedMetric(AttributionContext context, Tensor input, string site, Tensor source, Tensor masks, int count, long batch)
    {
        var repeats = new long[input.ndim];
        Array.Fill(repeats, 1L);
        repeats[0] = count;
        var inputs = input.repeat(repeats);
        using var hooks = new HookSet(context.Model);
        hooks.Add(site, a =>
        {
            var shape = new long[a.ndim + 1];
            shape[0] = count;
            shape[1] = batch;
            a.shape.Skip(1).ToArray().CopyTo(shape, 2);
            var grouped = a.view(shape);
            var patched = where(masks.unsqueeze(1), source.to(a.dtype).unsqueeze(0), grouped);
            return patched.reshape(a.shape);
        });
        return Metric(context, context.Model.Run(inputs), count * batch, arange(batch, ScalarType.Int64).repeat(count));
    }
}

/// <summary>Options of activation patching: the shared patching options plus batching.</summary>
public sealed record ActivationPatchingOptions : PatchingOptions
{
    [Option("patched copies of the batch evaluated in one forward pass")]
    public int UnitsPerPass { get; init; } = 16;

    public override IEnumerable<OptionError> Validate()
    {
        if (UnitsPerPass < 1) yield return new("units_per_pass", "must be at least 1");
    }
}
