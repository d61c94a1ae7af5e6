using Mechanist.Models;
using Mechanist.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Models.Runtime;

/// <summary>
/// Base of every built-in architecture: a module whose hook sites are <see cref="HookPoint"/>s registered by name.
/// Subclasses create their hook points with <see cref="Site"/> in the constructor, in execution order, and invoke
/// every child (hook points included) with <c>call</c> so that hooks fire.
/// </summary>
public abstract class HookedModel : nn.Module<Tensor, Tensor>, IHookedModel
{
    readonly Dictionary<string, HookPoint> _sites = new(StringComparer.Ordinal);
    readonly List<string> _order = [];

    protected HookedModel(string name) : base(name) { }

    public abstract string ModelType { get; }

    public IReadOnlyList<string> HookSites => _order;

    public int ActiveHookCount => _sites.Values.Sum(h => h.HookCount);

    /// <summary>Creates (or returns) the hook point named <paramref name="site"/>.</summary>
    protected HookPoint Site(string site)
    {
        if (_sites.TryGetValue(site, out var existing)) return existing;
        var point = new HookPoint(site);
        _sites[site] = point;
        _order.Add(site);
        return point;
    }

    public HookPoint GetHookPoint(string site) =>
        _sites.TryGetValue(site, out var point) ? point : throw UnknownSite(site);

    public IDisposable AddHook(string site, Func<Tensor, Tensor?> hook) => GetHookPoint(site).Add(hook);

    public Tensor Run(Tensor input) => call(input);

    MechanistInputException UnknownSite(string site)
    {
        var closest = NameSuggester.Closest(site, _order);
        return new MechanistInputException(
            $"model '{ModelType}' has no hook site '{site}'.{(closest is null ? "" : $" Did you mean '{closest}'?")} " +
            $"Sites: {string.Join(", ", _order.Take(12))}{(_order.Count > 12 ? ", …" : "")}.");
    }
}
