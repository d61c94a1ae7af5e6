using Mechanist.Fuzzing;
using Mechanist.Testing;

namespace Mechanist.Fuzz.Tests;

/// <summary>The committed inputs of a target: the minimised corpus (fuzz/corpus/T) and the crashes found (fuzz/crashes/T).</summary>
static class Corpus
{
    public static string Folder(string kind, string target) => Path.Combine(Repo.Root, "fuzz", kind, target);

    public static IReadOnlyList<string> Files(string kind, string target) =>
        Directory.Exists(Folder(kind, target)) ? Directory.GetFiles(Folder(kind, target)).Order(StringComparer.Ordinal).ToList() : [];

    public static TheoryData<string> Targets() => new(FuzzTargets.All.Select(t => t.Name));
}
