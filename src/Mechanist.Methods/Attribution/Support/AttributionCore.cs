using Mechanist.Attribution;
using Mechanist.Models;
using Mechanist.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Methods.Attribution;

/// <summary>Shared plumbing of the attribution methods: site checks, metric evaluation, gradients, hooks.</summary>
internal static class AttributionCore
{
    /// <summary>Throws an input error naming the closest site when <paramref name="site"/> is not a hook site of the model.</summary>
    public static void RequireSite(IHookedModel model, string site)
    {
        if (model.HookSites.Contains(site)) return;
        var closest = NameSuggester.Closest(site, model.HookSites);
        throw new MechanistInputException(
            $"model '{model.ModelType}' has no hook site '{site}'.{(closest is null ? "" : $" Did you mean '{closest}'?")} " +
            $"Sites: {string.Join(", ", model.HookSites.Take(12))}{(model.HookSites.Count > 12 ? ", …" : "")}.");
    }

    public static string RequireSite(AttributionContext context, string methodId)
    {
        var site = context.Site ?? throw new MechanistInputException(
            $"{methodId} needs a hook site (--site); the model's sites: {string.Join(", ", context.Model.HookSites.Take(12))}{(context.Model.HookSites.Count > 12 ? ", …" : "")}.");
        RequireSite(context.Model, site);
        return site;
    }

    /// <summary>The sites a multi-site method scores: <see cref="AttributionContext.Sites"/>, else the one site, else every hook site.</summary>
    public static IReadOnlyList<string> SitesOf(AttributionContext context)
    {
        var sites = context.Sites is { Count: > 0 } s ? s : context.Site is { } one ? [one] : context.Model.HookSites;
        foreach (var site in sites) RequireSite(context.Model, site);
        if (sites.Count == 0) throw new MechanistInputException($"model '{context.Model.ModelType}' exposes no hook sites to score.");
        return sites.Distinct().ToList();
    }

    public static long BatchOf(Tensor input)
    {
        if (input.ndim == 0) throw new MechanistInputException("the input must have a batch axis ([batch, …]); got a scalar.");
        return input.shape[0];
    }

    /// <summary>
    /// Runs the metric on a model output and checks it returns one value per row. <paramref name="examples"/> [rows]
    /// names the example of each output row when the rows are not the examples in order (integration steps,
    /// patched copies); the context's <see cref="AttributionContext.ExampleMetric"/> then gets them.
    /// </summary>
    public static Tensor Metric(AttributionContext context, Tensor output, long batch, Tensor? examples = null)
    {
        if (examples is null || context.ExampleMetric is null) return Metric(context.Metric, context.MetricDescription, output, batch);
        var m = context.ExampleMetric(output, examples.to(ScalarType.Int64).to(output.device));
        if (m.ndim != 1 || m.shape[0] != batch)
            throw new MechanistInputException(
                $"the metric '{context.MetricDescription}' returned shape [{string.Join(", ", m.shape)}]; it must return one value per row, [{batch}].");
        return m;
    }

    public static Tensor Metric(Func<Tensor, Tensor> metric, string description, Tensor output, long batch)
    {
        var m = metric(output);
        if (m.ndim != 1 || m.shape[0] != batch)
            throw new MechanistInputException(
                $"the metric '{description}' returned shape [{string.Join(", ", m.shape)}]; it must return one value per example, [{batch}].");
        return m;
    }

    /// <summary>The input or reference as floating point, or an input error explaining what to do with integer inputs.</summary>
    public static void RequireFloatInput(Tensor input, string methodId)
    {
        if (!input.is_floating_point())
            throw new MechanistInputException(
                $"{methodId} differentiates with respect to the input, but the input is {input.dtype} (token ids?). " +
                "Attribute to a hook site instead (e.g. --site hook_embed, or layer-integrated-gradients).");
    }

    /// <summary>The baseline broadcast to the input's shape and dtype; zeros when none is given.</summary>
    public static Tensor BaselineLike(Tensor input, Tensor? baseline, string what)
    {
        if (baseline is null) return zeros_like(input);
        try
        {
            return baseline.to(input.dtype, input.device).expand(input.shape).contiguous();
        }
        catch (Exception e) when (e is not MechanistInputException)
        {
            throw new MechanistInputException(
                $"the {what} has shape [{string.Join(", ", baseline.shape)}], which does not match the input's [{string.Join(", ", input.shape)}].");
        }
    }

    /// <summary>The reference (corrupted) input: must have the input's shape.</summary>
    public static Tensor RequireBaseline(AttributionContext context, string methodId, string what = "corrupted input")
    {
        var b = context.Baseline ?? throw new MechanistInputException(
            $"{methodId} needs a {what} (the reference run: --baseline or --baseline-tokens).");
        if (!b.shape.SequenceEqual(context.Input.shape))
            throw new MechanistInputException(
                $"the {what} has shape [{string.Join(", ", b.shape)}]; {methodId} needs the input's shape [{string.Join(", ", context.Input.shape)}].");
        return b.to(context.Input.device);
    }

    /// <summary>∂(Σ outputs)/∂inputs without touching any parameter's .grad; unused inputs get zero gradients.</summary>
    public static Tensor[] Gradients(Tensor scalar, IList<Tensor> inputs)
    {
        var grads = autograd.grad([scalar], inputs, allow_unused: true);
        var result = new Tensor[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
            result[i] = grads[i] is { } g && !g.IsInvalid ? g : zeros_like(inputs[i]);
        return result;
    }

    public static Tensor Gradient(Tensor scalar, Tensor input) => Gradients(scalar, [input])[0];

    /// <summary>Runs the model once and returns the activation at each site (detached copies).</summary>
    public static Dictionary<string, Tensor> Cache(IHookedModel model, Tensor input, IEnumerable<string> sites, out Tensor output)
    {
        var cache = new Dictionary<string, Tensor>();
        using var hooks = new HookSet(model);
        foreach (var site in sites.Distinct())
            hooks.Add(site, x => { cache[site] = x.detach().clone(); return null; });
        output = model.Run(input);
        return cache;
    }

    /// <summary>The largest absolute value of a tensor, as a double.</summary>
    public static double MaxAbs(Tensor t) => t.numel() == 0 ? 0 : t.abs().max().to(ScalarType.Float64).item<double>();

    public static string Shape(Tensor t) => $"[{string.Join(", ", t.shape)}]";
}

/// <summary>Hooks added for one method call, all removed on dispose (in a finally, so also when the method throws).</summary>
internal sealed class HookSet(IHookedModel model) : IDisposable
{
    readonly List<IDisposable> _handles = [];

    public void Add(string site, Func<Tensor, Tensor?> hook) => _handles.Add(model.AddHook(site, hook));

    public void Dispose()
    {
        List<Exception>? errors = null;
        for (int i = _handles.Count - 1; i >= 0; i--)
        {
            try { _handles[i].Dispose(); }
            catch (Exception e) { (errors ??= []).Add(e); }
        }
        _handles.Clear();
        if (errors is not null) throw new AggregateException("removing hooks failed", errors);
    }
}
