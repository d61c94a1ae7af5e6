using System.Reflection;

namespace Mechanist.Decomposers;

/// <summary>
/// The architectures a SAELens-layout folder can name in <c>cfg.json</c>'s <c>architecture</c>, each with its loader:
/// every public static method marked <see cref="SaeArchitectureAttribute"/> in an assembly registered here. This
/// assembly's architectures are registered on first use; the host registers each assembly it discovers methods in
/// (built-ins and plugins the same way). The table is process-wide, like the plugins' shared load context: a name
/// belongs to the first method that registers it (the same plugin loaded again replaces its own loader). Saving needs
/// no table: a decomposition writes its own name and tensors.
/// </summary>
public static class SaeArchitectures
{
    static readonly object Gate = new();
    static readonly HashSet<Assembly> Registered = [];
    static Dictionary<string, MethodInfo> _loaders = new(StringComparer.Ordinal);

    static SaeArchitectures() => Register(typeof(SaeArchitectures).Assembly);

    /// <summary>Every architecture name that loads.</summary>
    public static IReadOnlyCollection<string> Names => Volatile.Read(ref _loaders).Keys;

    /// <summary>The loader registered for <paramref name="name"/>, if any (a <c>static Decomposition Load(SaeLoadContext)</c>).</summary>
    public static MethodInfo? LoaderOf(string name) => Volatile.Read(ref _loaders).GetValueOrDefault(name);

    /// <summary>
    /// Registers every <see cref="SaeArchitectureAttribute"/> method of <paramref name="assembly"/>; registering an assembly
    /// again does nothing. Returns each method that was not registered (a wrong signature, or a name another method
    /// registered first, which keeps it); the host reports them as findings.
    /// </summary>
    public static IReadOnlyList<SaeArchitectureProblem> Register(Assembly assembly)
    {
        var problems = new List<SaeArchitectureProblem>();
        lock (Gate)
        {
            if (!Registered.Add(assembly)) return problems;
            var loaders = new Dictionary<string, MethodInfo>(_loaders, StringComparer.Ordinal);
            foreach (var type in ExportedTypes(assembly, problems))
                foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
                {
                    if (method.GetCustomAttribute<SaeArchitectureAttribute>() is not { } attribute) continue;
                    var where = $"{type.FullName}.{method.Name}";
                    var parameters = method.GetParameters();
                    if (!method.IsStatic || !method.IsPublic || parameters.Length != 1 || parameters[0].ParameterType != typeof(SaeLoadContext)
                        || !typeof(Decomposition).IsAssignableFrom(method.ReturnType) || method.ContainsGenericParameters)
                        problems.Add(new(attribute.Name, where, null, "the loader must be a public static method taking a SaeLoadContext and returning a Decomposition"));
                    else if (string.IsNullOrWhiteSpace(attribute.Name))
                        problems.Add(new(attribute.Name, where, null, "the architecture name is empty"));
                    else if (loaders.TryGetValue(attribute.Name, out var existing) && !SameLoader(existing, method))
                        problems.Add(new(attribute.Name, where, $"{existing.DeclaringType?.FullName}.{existing.Name} ({existing.DeclaringType?.Assembly.GetName().Name})",
                            "the name is already registered; the later loader is ignored"));
                    else
                        loaders[attribute.Name] = method;
                }
            Volatile.Write(ref _loaders, loaders);
        }
        return problems;
    }

    /// <summary>The same method of the same assembly, loaded again (another host in this process loaded the plugin again): the newer copy serves.</summary>
    static bool SameLoader(MethodInfo a, MethodInfo b) =>
        a.Name == b.Name && a.DeclaringType?.FullName == b.DeclaringType?.FullName
        && a.DeclaringType?.Assembly.GetName().FullName == b.DeclaringType?.Assembly.GetName().FullName;

    static IEnumerable<Type> ExportedTypes(Assembly assembly, List<SaeArchitectureProblem> problems)
    {
        try
        {
            // A dynamic (emitted) assembly has no export table: its visible types are the exported ones.
            return assembly.IsDynamic ? assembly.GetTypes().Where(t => t.IsVisible).ToArray() : assembly.GetExportedTypes();
        }
        catch (Exception e) when (e is ReflectionTypeLoadException or FileNotFoundException or FileLoadException or BadImageFormatException or TypeLoadException)
        {
            problems.Add(new("", assembly.GetName().Name ?? "", null, $"its types could not be read ({e.Message})"));
            return [];
        }
    }

    /// <summary>
    /// Loads the architecture <paramref name="name"/>. A <c>standard</c> folder whose <c>activation_fn_str</c> is
    /// <c>topk</c> (SAELens before 6.0) loads as <c>topk</c>.
    /// </summary>
    public static Decomposition Load(string name, SaeLoadContext context)
    {
        if (name == StandardSae.ArchitectureName && context.GetString("activation_fn_str") is "topk")
            name = TopKSae.ArchitectureName;
        var loaders = Volatile.Read(ref _loaders);
        if (!loaders.TryGetValue(name, out var load))
            throw new MechanistInputException(
                $"{context.ConfigPath}: architecture '{name}' is not supported (supported: {string.Join(", ", loaders.Keys.Order(StringComparer.Ordinal))}; " +
                "a plugin's architecture loads once the plugin is loaded, e.g. with --plugins).");
        try
        {
            return (Decomposition)load.Invoke(null, [context])!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }
}

/// <summary>
/// An <see cref="SaeArchitectureAttribute"/> method that <see cref="SaeArchitectures.Register"/> did not register:
/// the architecture <paramref name="Name"/>, the method (<c>Type.Method</c>), the method that holds the name when it was
/// taken first, and why.
/// </summary>
public sealed record SaeArchitectureProblem(string Name, string Loader, string? RegisteredBy, string Reason);
