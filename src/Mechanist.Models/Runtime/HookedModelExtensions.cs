using static TorchSharp.torch;

namespace Mechanist.Models.Runtime;

/// <summary>Running a model with hooks that are always removed afterwards, also when something throws.</summary>
public static class HookedModelExtensions
{
    /// <summary>Runs <paramref name="model"/> with the given hooks installed, then removes them.</summary>
    public static Tensor RunWithHooks(this IHookedModel model, Tensor input, params (string Site, Func<Tensor, Tensor?> Hook)[] hooks)
    {
        var handles = new List<IDisposable>();
        try
        {
            foreach (var (site, hook) in hooks) handles.Add(model.AddHook(site, hook));
            return model.Run(input);
        }
        finally
        {
            foreach (var h in handles) h.Dispose();
        }
    }

    /// <summary>
    /// Runs the model and returns its output plus a detached copy of the activation at each site (the cache).
    /// The cached tensors belong to the caller.
    /// </summary>
    public static (Tensor Output, Dictionary<string, Tensor> Cache) RunWithCache(this IHookedModel model, Tensor input, IEnumerable<string> sites)
    {
        var cache = new Dictionary<string, Tensor>();
        var hooks = sites.Distinct().Select(site => (site, (Func<Tensor, Tensor?>)(x =>
        {
            cache[site] = x.detach().clone().DetachFromDisposeScope();
            return null;
        }))).ToArray();
        var output = model.RunWithHooks(input, hooks);
        return (output, cache);
    }

    /// <summary>Replaces the activation at <paramref name="site"/> with <paramref name="replacement"/>(x) for one run.</summary>
    public static Tensor RunPatched(this IHookedModel model, Tensor input, string site, Func<Tensor, Tensor> replacement) =>
        model.RunWithHooks(input, (site, x => replacement(x)));

    /// <summary>Zero ablation of a site for one run.</summary>
    public static Tensor RunZeroAblated(this IHookedModel model, Tensor input, string site) =>
        model.RunPatched(input, site, x => zeros_like(x));
}
