using Mechanist.Decomposers;
using Mechanist.Host;
using Mechanist.Host.Discovery;

namespace Mechanist.Methods.Tests;

/// <summary>Fits a registered decomposer the way the command line does (resolve, bind options, create through DI).</summary>
static class SaeTraining
{
    public static Decomposition Fit(string method, IActivationSource data, IReadOnlyDictionary<string, string> settings, int seed = 0,
        IActivationSource? targets = null, IReadOnlyList<IActivationSource>? sites = null, CancellationToken cancellation = default,
        IProgress<ProgressReport>? progress = null)
    {
        using var host = MechanistHost.Create([]);
        var entry = host.Catalog.Resolve(method, MethodKind.Decomposer);
        var options = MethodCatalog.BindOptions(entry, settings);
        var decomposer = MethodCatalog.Create<Decomposer>(entry, host.Services);
        return decomposer.Fit(new DecomposeContext
        {
            Activations = data, Options = options, Seed = seed, Targets = targets, Sites = sites,
            CancellationToken = cancellation, Progress = progress,
        });
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
    public sealed class SyncProgress(Action<ProgressReport> report) : IProgress<ProgressReport>
    {
        public void Report(ProgressReport value) => report(value);
    }
}
