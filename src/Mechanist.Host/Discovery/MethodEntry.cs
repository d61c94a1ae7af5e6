using System.Reflection;
using Mechanist.Discovery;

namespace Mechanist.Host.Discovery;

/// <summary>A discovered method: its descriptor, its type, and where it came from.</summary>
public sealed record MethodEntry(MethodDescriptor Descriptor, Type Type, string Source)
{
    public string Id => Descriptor.Id;
    public MethodKind Kind => Descriptor.Kind;
    public string AssemblyName => Type.Assembly.GetName().Name ?? "";

    /// <summary>The assembly's informational version (else its assembly version).</summary>
    public string Version =>
        Type.Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? Type.Assembly.GetName().Version?.ToString() ?? "";

    /// <summary>Whether the method is one of the host's own (<see cref="Source"/> is "built-in"; else a plugin assembly's path).</summary>
    public bool IsBuiltIn => Source == MethodRegistry.BuiltInSource;

    /// <summary>Where the method came from: built-in, a plugin folder, or a plugin package with its ID and version.</summary>
    public Plugins.PluginOrigin Origin => Plugins.PluginOrigin.Of(Source);
}
