using System.Xml.Linq;

namespace Mechanist.Host.Plugins;

/// <summary>
/// Where a method came from: built into the host, a plugin folder named with <c>--plugins</c> or <c>plugins</c>, or a
/// plugin package — a NuGet package whose <c>mechanist/plugins/</c> folder holds the plugin, as <c>Mechanist.Build</c>
/// finds them among a project's package references (the package's ID and version come from its <c>.nuspec</c>).
/// </summary>
public sealed record PluginOrigin(string Kind, string? Path = null, string? PackageId = null, string? PackageVersion = null)
{
    public const string BuiltInKind = "built-in";
    public const string FolderKind = "folder";
    public const string PackageKind = "package";

    /// <summary>The folder of a package that holds plugins, relative to the package's root.</summary>
    public const string PackageFolder = "mechanist/plugins";

    public static readonly PluginOrigin BuiltIn = new(BuiltInKind);

    /// <summary>"built-in", "folder /path/Acme.Methods.dll", "package Acme.Methods 1.2.0".</summary>
    public override string ToString() => Kind switch
    {
        PackageKind => $"package {PackageId} {PackageVersion}",
        FolderKind => $"folder {Path}",
        _ => Kind,
    };

    /// <summary>The origin of a method whose source is <paramref name="source"/> (the host's "built-in", a test's name, or a plugin assembly's path).</summary>
    public static PluginOrigin Of(string source)
    {
        if (!System.IO.Path.IsPathRooted(source)) return new PluginOrigin(source == Discovery.MethodRegistry.BuiltInSource ? BuiltInKind : source);
        return PackageRootOf(source) is { } root && ReadNuspec(root) is { } package
            ? new PluginOrigin(PackageKind, source, package.Id, package.Version)
            : new PluginOrigin(FolderKind, source);
    }

    /// <summary>The root of the package a plugin path lies in (<c>ROOT/mechanist/plugins/…</c> with a <c>.nuspec</c> in ROOT), or null.</summary>
    public static string? PackageRootOf(string path)
    {
        for (var dir = new DirectoryInfo(System.IO.Path.GetFullPath(path)); dir?.Parent?.Parent is not null; dir = dir.Parent)
        {
            if (dir.Name == "plugins" && dir.Parent!.Name == "mechanist" && Directory.EnumerateFiles(dir.Parent.Parent!.FullName, "*.nuspec").Any())
                return dir.Parent.Parent!.FullName;
        }
        return null;
    }

    static (string Id, string Version)? ReadNuspec(string root)
    {
        try
        {
            var file = Directory.EnumerateFiles(root, "*.nuspec").First();
            var metadata = XDocument.Load(file).Root?.Elements().FirstOrDefault(e => e.Name.LocalName == "metadata");
            var id = metadata?.Elements().FirstOrDefault(e => e.Name.LocalName == "id")?.Value;
            var version = metadata?.Elements().FirstOrDefault(e => e.Name.LocalName == "version")?.Value;
            return id is null || version is null ? null : (id, version);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Xml.XmlException)
        {
            return null;
        }
    }
}
