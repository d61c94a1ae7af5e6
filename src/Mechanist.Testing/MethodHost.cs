using Mechanist.Host;
using Mechanist.Host.Discovery;
using Microsoft.Extensions.DependencyInjection;

namespace Mechanist.Testing;

/// <summary>
/// The methods a verifier sees, composed exactly as <c>mechanist</c> composes them: the built-ins, then plugin folders
/// (through the plugin loader, with its checks), then method types of your own (discovered by their attribute and
/// constructed through DI).
/// </summary>
public sealed class MethodHost : IDisposable
{
    MethodHost(MechanistHost host, IReadOnlyList<string> pluginPaths)
    {
        Host = host;
        PluginPaths = pluginPaths;
    }

    internal MechanistHost Host { get; }

    internal IReadOnlyList<string> PluginPaths { get; }

    /// <summary>
    /// A host with the built-ins, the plugins at <paramref name="pluginPaths"/> (folders or .dll files) and the method
    /// types <paramref name="methodTypes"/>; <paramref name="configureServices"/> registers what their constructors take.
    /// </summary>
    public static MethodHost Create(IEnumerable<string>? pluginPaths = null, IEnumerable<Type>? methodTypes = null,
        Action<IServiceCollection>? configureServices = null)
    {
        var paths = (pluginPaths ?? []).Select(Path.GetFullPath).ToList();
        var types = (methodTypes ?? []).ToList();
        var host = MechanistHost.Create(paths, services =>
        {
            var builder = services.AddMechanist();
            foreach (var t in types) builder.AddMethod(t, t.Assembly.Location is { Length: > 0 } location ? location : "code");
            configureServices?.Invoke(services);
        });
        return new MethodHost(host, paths);
    }

    /// <summary>A host with the built-ins and <typeparamref name="TMethod"/>.</summary>
    public static MethodHost For<TMethod>() where TMethod : class => Create(methodTypes: [typeof(TMethod)]);

    /// <summary>The IDs of the methods of <paramref name="kind"/> (all kinds when null), built-ins first, in discovery order.</summary>
    public IReadOnlyList<string> MethodIds(MethodKind? kind = null) =>
        Host.Catalog.Entries.Where(e => kind is null || e.Kind == kind).Select(e => e.Id).ToList();

    /// <summary>What went wrong composing the host (plugins that failed to load, duplicate IDs), as finding lines.</summary>
    public IReadOnlyList<string> LoadProblems => Host.Catalog.LoadFindings.Select(f => f.ToString()).ToList();

    internal MethodEntry Entry(string id) =>
        Host.Catalog.Entries.FirstOrDefault(e => e.Id == id)
        ?? throw new VerificationException($"no method '{id}' in the host (methods: {string.Join(", ", MethodIds())}){(LoadProblems.Count > 0 ? $"; load problems: {string.Join("; ", LoadProblems)}" : "")}.");

    public void Dispose() => Host.Dispose();
}
