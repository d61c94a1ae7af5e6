using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Mechanist.Decomposers;
using Mechanist.Host.Discovery;
using Mechanist.Sae;
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

    /// <summary>The SAE variant contract (its base class and trainer), shared and versioned like the contract.</summary>
    const string SaeContractName = "Mechanist.Sae";

    /// <summary>
    /// Types whose assemblies the host shares with every plugin: the contract, the SAE variant contract (a plugin's
    /// variant derives from the host's <see cref="SaeDecomposer{TOptions}"/> and trains through its trainer), TorchSharp,
    /// DI and logging.
    /// </summary>
    static readonly Type[] SharedTypes = [typeof(Decomposer), typeof(SaeTrainer), typeof(torch), typeof(IServiceCollection), typeof(ILogger)];

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
    /// The plugin assemblies a path names: a <c>.dll</c> file; a plugin folder — <c>FOLDER/FOLDER.dll</c>, or the one
    /// <c>NAME.dll</c> beside the folder's only <c>NAME.deps.json</c> (a plugin project's build output); a folder of plugin
    /// folders (<c>DIR/NAME/NAME.dll</c>); or a plugin package's root (its <c>mechanist/plugins/</c> folders). Throws an
    /// input error when the path does not exist.
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
        if (PluginFolderAssembly(full) is { } own) return [own];
        var packaged = Path.Combine(full, "mechanist", "plugins");
        var parent = Directory.Exists(packaged) ? packaged : full;
        return Directory.GetDirectories(parent).Order(StringComparer.Ordinal)
            .Select(PluginFolderAssembly).OfType<string>().ToList();
    }

    /// <summary>The plugin assembly of a plugin folder: <c>FOLDER.dll</c>, else the assembly of its only <c>*.deps.json</c>.</summary>
    static string? PluginFolderAssembly(string folder)
    {
        var own = Path.Combine(folder, Path.GetFileName(folder.TrimEnd(Path.DirectorySeparatorChar)) + ".dll");
        if (File.Exists(own)) return own;
        var deps = Directory.GetFiles(folder, "*.deps.json");
        if (deps.Length != 1) return null;
        var dll = deps[0][..^".deps.json".Length] + ".dll";
        return File.Exists(dll) ? dll : null;
    }

    /// <summary>Whether a native file is this operating system's kind (by extension) and, under <c>runtimes/RID/</c>, this machine's RID.</summary>
    static bool IsForThisPlatform(string file)
    {
        var name = Path.GetFileName(file);
        bool kind = OperatingSystem.IsWindows() ? name.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
            : OperatingSystem.IsMacOS() ? name.EndsWith(".dylib", StringComparison.Ordinal)
            : name.Contains(".so", StringComparison.Ordinal);
        var parts = file.Replace('\\', '/').Split('/');
        int runtimes = Array.LastIndexOf(parts, "runtimes");
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        var arch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant();
        bool thisRid = runtimes < 0 || runtimes + 1 >= parts.Length || parts[runtimes + 1] == $"{os}-{arch}";
        return kind && thisRid;
    }

    /// <summary>Why the plugin must not be loaded, or null when it may. Reads files and metadata only.</summary>
    public static string? Preflight(string assemblyPath, Version hostContracts)
    {
        var folder = Path.GetDirectoryName(assemblyPath)!;
        var natives = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => IsNativeTorch(Path.GetFileName(f))).ToList();
        if (natives.Count > 0)
        {
            // Name the file this operating system would load (TorchSharp-cpu brings every platform's).
            var native = natives.OrderBy(f => IsForThisPlatform(f) ? 0 : 1).ThenBy(f => f, StringComparer.Ordinal).First();
            return $"its folder carries its own native libtorch ('{Path.GetRelativePath(folder, native)}'{(natives.Count > 1 ? $" and {natives.Count - 1} more native torch file(s)" : "")}), and a second libtorch in the process aborts it. " +
                   "Reference only Mechanist.Abstractions (its build props keep TorchSharp's runtime and native assets out of a plugin), and no libtorch or TorchSharp-cpu package";
        }
        try
        {
            using var stream = File.OpenRead(assemblyPath);
            using var pe = new PEReader(stream);
            if (!pe.HasMetadata) return "it is not a .NET assembly (no metadata)";
            var md = pe.GetMetadataReader();
            Version? built = null, builtSae = null;
            foreach (var handle in md.AssemblyReferences)
            {
                var reference = md.GetAssemblyReference(handle);
                var name = md.GetString(reference.Name);
                if (name == ContractsName) built = reference.Version;
                else if (name == SaeContractName) builtSae = reference.Version;
            }
            if (built is null)
                return $"it does not reference {ContractsName}, so it defines no Mechanist methods";
            // The compatibility rule (docs/plugins.md#versions): same major, and a minor no newer than the host's.
            foreach (var (name, version) in new[] { (ContractsName, built), (SaeContractName, builtSae) })
            {
                var host = name == ContractsName ? hostContracts : typeof(SaeTrainer).Assembly.GetName().Version!;
                if (version is not null && (version.Major != host.Major || version > host))
                    return $"it was built against {name} {version.ToString(2)}, and this host provides {host.ToString(2)}; " +
                           $"reference {name} {host.Major}.x, at most {host.ToString(2)} (docs/plugins.md#versions)";
            }
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
