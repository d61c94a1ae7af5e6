namespace Mechanist.Host.Gate;

/// <summary>
/// Turns a check's help link into an absolute URI for reports (SARIF's <c>helpUri</c> must be one). A link that is
/// already an absolute URI is kept. A relative link (<c>docs/checks/MECH1001.md</c>) is resolved, in order:
/// <list type="number">
/// <item>against the base URI the caller gives (<c>--help-uri-base</c>, e.g. the web address of the repository's tree);</item>
/// <item>as a file beside the running program (the CLI and the dotnet tool ship <c>docs/checks/</c>), or in a
/// plugin's folder for a plugin's checks, or in a folder above the program (a source checkout);</item>
/// <item>failing all, as a file URI beside the running program.</item>
/// </list>
/// </summary>
public static class HelpLinks
{
    public static string Resolve(string link, string? baseUri, string? pluginFolder = null)
    {
        if (Uri.TryCreate(link, UriKind.Absolute, out var absolute) && !absolute.IsFile) return absolute.AbsoluteUri;
        if (Path.IsPathRooted(link)) return new Uri(link).AbsoluteUri;
        if (!string.IsNullOrEmpty(baseUri))
        {
            var b = baseUri.EndsWith('/') ? baseUri : baseUri + "/";
            if (Uri.TryCreate(b, UriKind.Absolute, out var root)) return new Uri(root, link).AbsoluteUri;
        }
        foreach (var folder in SearchFolders(pluginFolder))
        {
            var candidate = Path.Combine(folder, link);
            if (File.Exists(candidate)) return new Uri(Path.GetFullPath(candidate)).AbsoluteUri;
        }
        return new Uri(Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, link))).AbsoluteUri;
    }

    static IEnumerable<string> SearchFolders(string? pluginFolder)
    {
        if (pluginFolder is not null) yield return pluginFolder;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            yield return dir.FullName;
    }
}
