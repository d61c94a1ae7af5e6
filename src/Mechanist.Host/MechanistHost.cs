using Mechanist.Host.Discovery;
using Microsoft.Extensions.DependencyInjection;

namespace Mechanist.Host;

/// <summary>The composed host: built-ins plus plugins, a service provider, and the catalog.</summary>
public sealed class MechanistHost : IDisposable
{
    readonly ServiceProvider _provider;

    MechanistHost(ServiceProvider provider)
    {
        _provider = provider;
        Catalog = provider.GetRequiredService<MethodCatalog>();
    }

    public MethodCatalog Catalog { get; }

    public IServiceProvider Services => _provider;

    /// <summary>Composes a host from the built-ins and the given plugin paths.</summary>
    public static MechanistHost Create(IEnumerable<string> pluginPaths, Action<IServiceCollection>? configure = null)
    {
        var services = new ServiceCollection();
        var builder = services.AddMechanist().AddBuiltIns();
        foreach (var path in pluginPaths) builder.AddPlugins(path);
        configure?.Invoke(services);
        return new MechanistHost(services.BuildServiceProvider());
    }

    public void Dispose() => _provider.Dispose();
}
