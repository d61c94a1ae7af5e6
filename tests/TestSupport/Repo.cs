namespace Mechanist.Testing;

/// <summary>Paths in the repository, found from the test's output folder.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Framework.sln"))) return dir.FullName;
        throw new InvalidOperationException("Framework.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Where the plugins of plugins/ are built (the folder users load with --plugins artifacts/plugins).</summary>
    public static string PluginsArtifacts => Path.Combine(Root, "artifacts", "plugins");

    /// <summary>Where the test fixture plugins of tests/Fixtures/ are built, apart from the users' folder.</summary>
    public static string TestPluginsArtifacts => Path.Combine(Root, "artifacts", "test-plugins");

    /// <summary>A built plugin's folder: a test fixture's (Mechanist.TestPlugins.*) or a plugin's.</summary>
    public static string Plugin(string name) =>
        Path.Combine(name.StartsWith("Mechanist.TestPlugins.", StringComparison.Ordinal) ? TestPluginsArtifacts : PluginsArtifacts, name);
}

/// <summary>A temporary folder deleted on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mechanist-tests", Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Every file and folder under the temp folder, relative, sorted (to assert nothing partial was left).</summary>
    public IReadOnlyList<string> Entries() =>
        Directory.EnumerateFileSystemEntries(Path, "*", SearchOption.AllDirectories)
            .Select(p => System.IO.Path.GetRelativePath(Path, p)).Order().ToList();

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
