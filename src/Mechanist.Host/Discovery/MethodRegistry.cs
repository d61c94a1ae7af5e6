using System.Reflection;
using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Host.Checks;
using Mechanist.Validators;

namespace Mechanist.Host.Discovery;

/// <summary>
/// Collects methods from assemblies by their attributes (built-ins and plugins the same way) and the findings of
/// that discovery. First registration of an ID wins; a later one is finding MECH0004. The SAELens architectures an
/// assembly declares (<see cref="SaeArchitectureAttribute"/>) are registered with it, the same way.
/// </summary>
public sealed class MethodRegistry
{
    public const string BuiltInSource = "built-in";

    readonly List<MethodEntry> _entries = [];
    readonly List<Finding> _findings = [];
    readonly HashSet<Assembly> _assemblies = [];

    public IReadOnlyList<MethodEntry> Entries => _entries;
    public IReadOnlyList<Finding> Findings => _findings;

    public void AddFinding(Finding finding) => _findings.Add(finding);

    /// <summary>Discovers every method type exported by <paramref name="assembly"/>; adding an assembly twice does nothing.</summary>
    public void AddAssembly(Assembly assembly, string source)
    {
        if (!_assemblies.Add(assembly)) return;
        Type[] types;
        try
        {
            types = assembly.IsDynamic ? assembly.GetTypes().Where(t => t.IsVisible).ToArray() : assembly.GetExportedTypes();
        }
        catch (Exception e) when (e is ReflectionTypeLoadException or FileNotFoundException or FileLoadException or BadImageFormatException or TypeLoadException)
        {
            _findings.Add(PluginFailure(source, $"its types could not be read ({FirstMessage(e)})"));
            return;
        }
        foreach (var type in types.Where(t => t.IsClass && Attribute.IsDefined(t, typeof(MethodAttribute), inherit: false)))
            AddType(type, source);
        AddArchitectures(assembly, source);
    }

    /// <summary>
    /// Registers the SAELens architectures <paramref name="assembly"/> declares; a name another loader holds is MECH0004,
    /// a loader with the wrong signature MECH0002.
    /// </summary>
    void AddArchitectures(Assembly assembly, string source)
    {
        foreach (var problem in SaeArchitectures.Register(assembly))
        {
            if (problem.RegisteredBy is { } holder)
                _findings.Add(Finding.Create(InfrastructureChecks.DuplicateMethodId, new FindingLocation(Path: source),
                    ["SAE architecture", problem.Name, $"{problem.Loader} ({source})", holder, "the later one is ignored"]));
            else
                _findings.Add(PluginFailure(source, $"SAE architecture '{problem.Name}' of {problem.Loader}: {problem.Reason}"));
        }
    }

    /// <summary>Registers one method type.</summary>
    public void AddType(Type type, string source)
    {
        MethodDescriptor descriptor;
        try
        {
            descriptor = MethodDescriptor.FromType(type);
        }
        catch (Exception e) when (e is InvalidMethodException or ArgumentException)
        {
            _findings.Add(PluginFailure(source, $"method type {type.FullName} is invalid: {e.Message}"));
            return;
        }
        var existing = _entries.FirstOrDefault(x => x.Id == descriptor.Id);
        if (existing is not null)
        {
            if (existing.Type != type)
                _findings.Add(Finding.Create(InfrastructureChecks.DuplicateMethodId, new FindingLocation(Path: source, Method: descriptor.Id),
                    ["method ID", descriptor.Id, $"{type.FullName} ({source})", $"{existing.Type.FullName} ({existing.Source})", "the later one is ignored"]));
            return;
        }
        _entries.Add(new MethodEntry(descriptor, type, source));
        AddArchitectures(type.Assembly, source);
    }

    internal static Finding PluginFailure(string path, string why) =>
        Finding.Create(InfrastructureChecks.PluginLoadFailed, new FindingLocation(Path: path), [path, why]);

    internal static string FirstMessage(Exception e) => e switch
    {
        ReflectionTypeLoadException r when r.LoaderExceptions.FirstOrDefault(x => x is not null) is { } inner => inner.Message,
        _ => e.Message,
    };
}
