using Mechanist.Decomposers;
using static TorchSharp.torch;

namespace Mechanist.Models.Runtime;

/// <summary>
/// Running a model with hooks that are always removed afterwards, also when a hook or the model throws:
/// read (cache), replace (patch from another run; zero, mean and resample ablation) and splice (a decomposition's
/// reconstruction, with or without the error term).
/// </summary>
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
    /// The cached tensors belong to the caller. On error, the copies made so far are disposed.
    /// </summary>
    public static (Tensor Output, Dictionary<string, Tensor> Cache) RunWithCache(this IHookedModel model, Tensor input, IEnumerable<string> sites)
    {
        var cache = new Dictionary<string, Tensor>();
        var hooks = sites.Distinct().Select(site => (site, Hooks.Cache(cache, site))).ToArray();
        try
        {
            var output = model.RunWithHooks(input, hooks);
            return (output, cache);
        }
        catch
        {
            foreach (var t in cache.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>Replaces the activation at <paramref name="site"/> with <paramref name="replacement"/>(x) for one run.</summary>
    public static Tensor RunPatched(this IHookedModel model, Tensor input, string site, Func<Tensor, Tensor> replacement) =>
        model.RunWithHooks(input, (site, x => replacement(x)));

    /// <summary>Zero ablation of a site for one run.</summary>
    public static Tensor RunZeroAblated(this IHookedModel model, Tensor input, string site) =>
        model.RunWithHooks(input, (site, Hooks.Zero()));

    /// <summary>
    /// Activation patching: runs <paramref name="source"/>, caches the activation at <paramref name="site"/>, and runs
    /// <paramref name="input"/> with that activation patched in (same shape required).
    /// </summary>
    public static Tensor RunPatchedFrom(this IHookedModel model, Tensor input, string site, Tensor source)
    {
        var (sourceOutput, cache) = model.RunWithCache(source, [site]);
        sourceOutput.Dispose();
        using var donor = cache[site];
        return model.RunWithHooks(input, (site, x =>
        {
            if (!donor.shape.SequenceEqual(x.shape))
                throw new MechanistInputException(
                    $"cannot patch {site}: the source run's activation has shape {Hooks.Shape(donor.shape)}, this run's {Hooks.Shape(x.shape)}.");
            return donor.to(x.dtype, x.device);
        }));
    }

    /// <summary>
    /// The mean activation at <paramref name="site"/> over <paramref name="inputs"/> (reduced over the batch
    /// dimension, and over the position dimension too when <paramref name="overPositions"/>), accumulated in float64
    /// and returned as float32, for mean ablation. Every input batch must give the same activation shape beyond
    /// the reduced dimensions.
    /// </summary>
    public static Tensor SiteMean(this IHookedModel model, IEnumerable<Tensor> inputs, string site, bool overPositions = false)
    {
        Tensor? sum = null;
        long count = 0;
        try
        {
            foreach (var input in inputs)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var (output, cache) = model.RunWithCache(input, [site]);
                output.Dispose();
                using var cached = cache[site];
                var x = cached.to(ScalarType.Float64);
                long[] dims = overPositions ? [0, 1] : [0];
                if (x.ndim < dims.Length + 1)
                    throw new MechanistInputException($"{site}: activation of shape {Hooks.Shape(x.shape)} has no position dimension to average over.");
                var part = x.sum(dims);
                count += dims.Aggregate(1L, (n, dim) => n * x.shape[dim]);
                if (sum is null) sum = part.MoveToOuterDisposeScope();
                else if (!sum.shape.SequenceEqual(part.shape))
                    throw new MechanistInputException(
                        $"{site}: reference batches give activations of different shapes ({Hooks.Shape(sum.shape)} and {Hooks.Shape(part.shape)} after averaging); use batches of one sequence length or overPositions.");
                else sum.add_(part);
            }
            if (sum is null || count == 0) throw new MechanistInputException($"{site}: no reference inputs to average over.");
            using (sum) return (sum / count).to(ScalarType.Float32);
        }
        catch
        {
            sum?.Dispose();
            throw;
        }
    }

    /// <summary>Mean ablation: replaces the activation at <paramref name="site"/> by <paramref name="mean"/> (see <see cref="SiteMean"/>), broadcast to its shape.</summary>
    public static Tensor RunMeanAblated(this IHookedModel model, Tensor input, string site, Tensor mean) =>
        model.RunWithHooks(input, (site, Hooks.Replace(mean, site)));

    /// <summary>
    /// Resample ablation with given donors: runs <paramref name="donorInputs"/> once, then replaces the activation of
    /// batch row b of <paramref name="input"/> by the donors' activation at row <c>indices[b]</c>.
    /// </summary>
    public static Tensor RunResampleAblated(this IHookedModel model, Tensor input, string site, Tensor donorInputs, Tensor indices)
    {
        var (donorOutput, cache) = model.RunWithCache(donorInputs, [site]);
        donorOutput.Dispose();
        using var donors = cache[site];
        return model.RunWithHooks(input, (site, Hooks.Resample(donors, indices, site)));
    }

    /// <summary>Resample ablation drawing each row's donor uniformly from <paramref name="donorInputs"/> with <paramref name="generator"/>.</summary>
    public static Tensor RunResampleAblated(this IHookedModel model, Tensor input, string site, Tensor donorInputs, Generator generator)
    {
        using var indices = randint(donorInputs.shape[0], [input.shape[0]], generator: generator);
        return model.RunResampleAblated(input, site, donorInputs, indices);
    }

    /// <summary>
    /// Splicing: replaces the activation at <paramref name="site"/> by <paramref name="decomposition"/>'s
    /// reconstruction, plus the error term x − x̂ when <paramref name="withErrorTerm"/> (which then reproduces the
    /// clean output exactly). See <see cref="Hooks.Splice"/>.
    /// </summary>
    public static Tensor RunSpliced(this IHookedModel model, Tensor input, string site, Decomposition decomposition, bool withErrorTerm = false) =>
        model.RunWithHooks(input, (site, Hooks.Splice(decomposition, withErrorTerm, site)));
}
