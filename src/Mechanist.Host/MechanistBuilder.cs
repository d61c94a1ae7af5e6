using System.Reflection;
using Mechanist.Host.Discovery;
using Mechanist.Host.Plugins;
using Mechanist.Methods.Decomposers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mechanist.Host;

/// <summary>Adds methods to a service collection: built-ins, single types, whole assemblies, plugin folders.</summary>
public sealed class MechanistBuilder
{
    internal MechanistBuilder(IServiceCollection services, MethodRegistry registry)
    {
        Services = services;
        Registry = registry;
    }

    public IServiceCollection Services { get; }

    internal MethodRegistry Registry { get; }

    /// <summary>The built-in methods (the first plugin: discovered the same way as any other).</summary>
    public MechanistBuilder AddBuiltIns() => AddAssembly(typeof(Pca).Assembly, MethodRegistry.BuiltInSource);

    public MechanistBuilder AddAssembly(Assembly assembly, string source)
    {
        Registry.AddAssembly(assembly, source);
        return this;
    }

    public MechanistBuilder AddMethod<TMethod>(string source = "code") where TMethod : class => AddMethod(typeof(TMethod), source);

    /// <summary>Registers one method type (its attribute holds its ID); a type that is not a valid method is a load finding.</summary>
    public MechanistBuilder AddMethod(Type type, string source = "code")
    {
        Registry.AddType(type, source);
        return this;
    }

    /// <summary>
    /// Loads every plugin a path names (see <see cref="PluginLoader.ResolveAssemblies"/>) and lets each plugin's
    /// <see cref="IMechanistPlugin"/> types register their services. Failures become findings.
    /// </summary>
    public MechanistBuilder AddPlugins(string path)
    {
        var assemblies = PluginLoader.ResolveAssemblies(path);
        if (assemblies.Count == 0)
            Registry.AddFinding(MethodRegistry.PluginFailure(Path.GetFullPath(path),
                "no plugin assembly found (expected FOLDER/FOLDER.dll or FOLDER/NAME/NAME.dll)"));
        foreach (var file in assemblies)
        {
            var assembly = PluginLoader.Load(file, Registry);
            if (assembly is not null) ConfigurePluginServices(assembly, file);
        }
        return this;
    }

    void ConfigurePluginServices(Assembly assembly, string path)
    {
        try
        {
            foreach (var type in assembly.GetExportedTypes().Where(t => t.IsClass && !t.IsAbstract && typeof(IMechanistPlugin).IsAssignableFrom(t)))
                ((IMechanistPlugin)Activator.CreateInstance(type)!).ConfigureServices(Services);
        }
        catch (Exception e)
        {
            Registry.AddFinding(MethodRegistry.PluginFailure(path,
                $"its service registration threw {(e is TargetInvocationException { InnerException: { } i } ? i : e).GetType().Name}: {MethodRegistry.FirstMessage(e is TargetInvocationException { InnerException: { } j } ? j : e)}"));
        }
    }
}

public static class MechanistServiceCollectionExtensions
{
    /// <summary>
    /// Adds the Mechanist host services (the method catalog and logging fallbacks). Idempotent: calling it again
    /// returns a builder over the same registrations.
    /// </summary>
    public static MechanistBuilder AddMechanist(this IServiceCollection services)
    {
        var registry = services.FirstOrDefault(d => d.ServiceType == typeof(MethodRegistry))?.ImplementationInstance as MethodRegistry;
        if (registry is null)
        {
            registry = new MethodRegistry();
            services.AddSingleton(registry);
            services.TryAddSingleton(sp => new MethodCatalog(registry.Entries.ToList(), registry.Findings.ToList()));
            services.TryAddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
            services.TryAdd(ServiceDescriptor.Singleton(typeof(ILogger<>), typeof(Logger<>)));
        }
        return new MechanistBuilder(services, registry);
    }
}
