namespace Mechanist.Decomposers;

/// <summary>
/// Registers a SAELens <c>architecture</c> name (the value of <c>cfg.json</c>'s <c>architecture</c>) and its loader: put
/// it on a public static method that takes a <see cref="SaeLoadContext"/> and returns a <see cref="Decomposition"/>
/// whose <see cref="Decomposition.Architecture"/> is that name. The host registers every such method of the assemblies
/// it discovers methods in, the built-in architectures and plugins' alike (<see cref="SaeArchitectures.Register"/>), so
/// a folder a plugin variant saves loads, evaluates and compares like a built-in one.
/// </summary>
/// <example><code>
/// [SaeArchitecture(ArchitectureName)]
/// public static ThresholdTopKSae Load(SaeLoadContext c) => new(c.Read("W_enc", c.DIn, c.DSae), …, c.RequireInt("k"));
/// </code></example>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class SaeArchitectureAttribute(string name) : Attribute
{
    /// <summary>The <c>architecture</c> name in <c>cfg.json</c>.</summary>
    public string Name { get; } = name;
}
