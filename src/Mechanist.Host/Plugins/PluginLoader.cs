using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Mechanist.Decomposers;
using Mechanist.Host.Discovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TorchSharp;
using McMasterLoader = McMaster.NETCore.Plugins.PluginLoader;

namespace Mechanist.Host.Plugins;

/// <summary>
/// Finds plugin assemblies, checks them before any of their code runs, and loads them in their own load
/// context sharing the contracts, TorchSharp, DI and logging types with the host. Every failure becomes
/// finding MECH0002 naming the plugin path; none is thrown.
/// </summary>
public static class PluginLoader
{
    const string ContractsName = "Mechanist.Abstractions";

    /// <summary>Types whose assemblies the host shares with every plugin.</summary>
    static readonly Type[] SharedTypes = [typeof(Decomposer), typeof(torch), typeof(IServiceCollection), typeof(ILogger)];

    /// <summary>Whether a file name is a native libtorch or TorchSharp library (a second copy in the process aborts it).</summary>
    public static bool IsNativeTorch(string fileName)
    {
        bool unixNative = fileName.Contains(".so", StringComparison.Ordinal) || fileName.EndsWith(".dylib", StringComparison.Ordinal);
        if (unixNative && (fileName.StartsWith("libtorch", StringComparison.Ordinal) || fileName.StartsWith("libLibTorchSharp", StringComparison.Ordinal)
            || fileName.StartsWith("libc10", StringComparison.Ordinal)))
            return true;
        return fileName is "LibTorchSharp.dll" or "torch_cpu.dll" or "torch.dll" or "c10.dll";
    }

    /// <summary>
    /// The plugin assemblies a path names: a <c>.dll</c> file; a plugin folder holding <c>FOLDER/FOLDER.dll</c>;
    /// or a folder of plugin folders (<c>DIR/NAME/NAME.dll</c>). Throws an input error when the path does not exist.
    /// </summary>
    public static IReadOnlyList<string> ResolveAssemblies(string path)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full))
        {
            if (!full.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
                throw new MechanistInputException($"{path}: a plugin must be a .dll file or a folder, not '{Path.GetFileName(full)}'.");
            return [full];
        }
        if (!Directory.Exists(full))
            throw new MechanistInputException($"{path}: plugin folder not found.");
        var own = Path.Combine(full, Path.GetFileName(full.TrimEnd(Path.DirectorySeparatorChar)) + ".dll");
        if (File.Exists(own)) return [own];
        return Directory.GetDirectories(full).Order(StringComparer.Ordinal)
            .Select(d => Path.Combine(d, Path.GetFileName(d) + ".dll"))
            .Where(File.Exists).ToList();
    }

    /// <summary>Why the plugin must not be loaded, or null when it may. Reads files and metadata only.</summary>
    public static string? Preflight(string assemblyPath, Version hostContracts)
    {
        var folder = Path.GetDirectoryName(assemblyPath)!;
        var native = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .FirstOrDefault(f => IsNativeTorch(Path.GetFileName(f)));
        if (native is not null)
            return $"its folder carries its own native libtorch ('{Path.GetRelativePath(folder, native)}'), and a second libtorch in the process aborts it. " +
                   "Reference TorchSharp with ExcludeAssets=\"runtime;native\" and no libtorch package";
        try
        {
            using var stream = File.OpenRead(assemblyPath);
            using var pe = new PEReader(stream);
            if (!pe.HasMetadata) return "it is not a .NET assembly (no metadata)";
            var md = pe.GetMetadataReader();
            Version? built = null;
            foreach (var handle in md.AssemblyReferences)
            {
                var reference = md.GetAssemblyReference(handle);
                if (md.GetString(reference.Name) == ContractsName) built = reference.Version;
            }
            if (built is null)
                return $"it does not reference {ContractsName}, so it defines no Mechanist methods";
            if (built.Major != hostContracts.Major || built > hostContracts)
                return $"it was built against {ContractsName} {built}, and this host provides {hostContracts}; rebuild it against {hostContracts.Major}.x up to {hostContracts}";
        }
        catch (BadImageFormatException e)
        {
            return $"it is not a valid .NET assembly ({e.Message})";
        }
        catch (IOException e)
        {
            return $"it could not be read ({e.Message})";
        }
        return null;
    }

    /// <summary>Checks and loads one plugin assembly, registering its methods; returns the loaded assembly or null.</summary>
    public static Assembly? Load(string assemblyPath, MethodRegistry registry)
    {
        var hostContracts = typeof(Decomposer).Assembly.GetName().Version!;
        var refusal = Preflight(assemblyPath, hostContracts);
        if (refusal is not null)
        {
            registry.AddFinding(MethodRegistry.PluginFailure(assemblyPath, refusal));
            return null;
        }
        Assembly assembly;
        try
        {
            var loader = McMasterLoader.CreateFromAssemblyFile(assemblyPath, SharedTypes, config => config.PreferSharedTypes = true);
            assembly = loader.LoadDefaultAssembly();
        }
        catch (Exception e)
        {
            registry.AddFinding(MethodRegistry.PluginFailure(assemblyPath, $"loading failed ({e.GetType().Name}: {MethodRegistry.FirstMessage(e)})"));
            return null;
        }
        registry.AddAssembly(assembly, assemblyPath);
        return assembly;
    }
}
