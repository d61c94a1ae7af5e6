namespace Mechanist.Decomposers;

/// <summary>
/// The architectures a SAELens-layout folder can name in <c>cfg.json</c>'s <c>architecture</c>, each with its loader
/// (the loaders live with their classes). Saving needs no table: a decomposition writes its own name and tensors.
/// </summary>
public static class SaeArchitectures
{
    static readonly Dictionary<string, Func<SaeLoadContext, Decomposition>> Loaders = new(StringComparer.Ordinal)
    {
        [StandardSae.ArchitectureName] = StandardSae.Load,
        [TopKSae.ArchitectureName] = TopKSae.Load,
        [JumpReluSae.ArchitectureName] = JumpReluSae.Load,
        [GatedSae.ArchitectureName] = GatedSae.Load,
        [Transcoder.ArchitectureName] = c => Transcoder.Load(c, skip: false),
        [Transcoder.SkipArchitectureName] = c => Transcoder.Load(c, skip: true),
        [Crosscoder.ArchitectureName] = Crosscoder.Load,
    };

    /// <summary>Every architecture name that loads.</summary>
    public static IReadOnlyCollection<string> Names => Loaders.Keys;

    /// <summary>
    /// Loads the architecture <paramref name="name"/>. A <c>standard</c> folder whose <c>activation_fn_str</c> is
    /// <c>topk</c> (SAELens before 6.0) loads as <c>topk</c>.
    /// </summary>
    public static Decomposition Load(string name, SaeLoadContext context)
    {
        if (name == StandardSae.ArchitectureName && context.GetString("activation_fn_str") is "topk")
            name = TopKSae.ArchitectureName;
        if (!Loaders.TryGetValue(name, out var load))
            throw new MechanistInputException(
                $"{context.ConfigPath}: architecture '{name}' is not supported (supported: {string.Join(", ", Loaders.Keys)}).");
        return load(context);
    }
}
