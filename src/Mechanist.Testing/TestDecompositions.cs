using Mechanist.Decomposers;
using Mechanist.Host.Formats;

namespace Mechanist.Testing;

/// <summary>Decompositions written to disk for a test's config, in SAELens layout.</summary>
public static class TestDecompositions
{
    /// <summary>Saves <paramref name="decomposition"/> to a new temporary folder (SAELens layout) and returns the folder.</summary>
    public static string Save(Decomposition decomposition, string? hookName = null)
    {
        if (hookName is not null) decomposition.Metadata = decomposition.Metadata with { HookName = hookName };
        var folder = Path.Combine(Path.GetTempPath(), "mechanist-testing", "decomposition-" + Guid.NewGuid().ToString("N")[..12]);
        DecompositionFolder.Save(folder, decomposition);
        return folder;
    }

    /// <summary>Loads a SAELens-layout (or sparsify) folder as the host does.</summary>
    public static Decomposition Load(string folder) => DecompositionFolder.Load(folder);
}
