using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using Mechanist.Testing;

namespace Mechanist.Host.Tests;

/// <summary>Builds plugin folders for failure tests: copies of real plugins with changes, and hand-made assemblies.</summary>
static class PluginFixtures
{
    public const string FastIca = "Mechanist.Plugins.FastIca";
    public const string Faulty = "Mechanist.TestPlugins.Faulty";

    /// <summary>Copies a built plugin folder into <paramref name="parent"/>/<paramref name="name"/> (the plugin keeps its own file names).</summary>
    public static string CopyPlugin(string plugin, string parent)
    {
        var source = Repo.Plugin(plugin);
        var target = Path.Combine(parent, plugin);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source))
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }

    /// <summary>
    /// Writes a minimal valid .NET assembly named <paramref name="name"/> whose only reference is
    /// Mechanist.Abstractions at <paramref name="contractsVersion"/>: a plugin built against another contracts version.
    /// </summary>
    public static string WriteAssemblyReferencingContracts(string folder, string name, Version contractsVersion)
    {
        Directory.CreateDirectory(folder);
        var md = new MetadataBuilder();
        md.AddModule(0, md.GetOrAddString(name + ".dll"), md.GetOrAddGuid(Guid.NewGuid()), default, default);
        md.AddAssembly(md.GetOrAddString(name), new Version(1, 0, 0, 0), default, default, default, AssemblyHashAlgorithm.Sha1);
        md.AddAssemblyReference(md.GetOrAddString("Mechanist.Abstractions"), contractsVersion, default, default, default, default);
        md.AddTypeDefinition(default, default, md.GetOrAddString("<Module>"), default,
            MetadataTokens.FieldDefinitionHandle(1), MetadataTokens.MethodDefinitionHandle(1));
        var pe = new ManagedPEBuilder(PEHeaderBuilder.CreateLibraryHeader(), new MetadataRootBuilder(md), new BlobBuilder());
        var blob = new BlobBuilder();
        pe.Serialize(blob);
        var path = Path.Combine(folder, name + ".dll");
        File.WriteAllBytes(path, blob.ToArray());
        return path;
    }

    public static Version HostContractsVersion => typeof(Decomposers.Decomposer).Assembly.GetName().Version!;
}
