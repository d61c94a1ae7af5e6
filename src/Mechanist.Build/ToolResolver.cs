using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;

namespace Mechanist.Build;

/// <summary>The mechanist program a build runs, how it was found, and what identifies its version.</summary>
/// <param name="Program">What to start: an executable, or the dotnet host.</param>
/// <param name="FirstArgument">For the dotnet host: <c>mechanist.dll</c>, or <c>mechanist</c> for a local tool (<c>dotnet mechanist</c>).</param>
/// <param name="Source">How it was found: MechanistToolPath, a local tool manifest, PATH, the global tools folder, or not at all.</param>
/// <param name="Identity">Changes whenever the tool does (a new version installed, the file rebuilt): an input of the check.</param>
public sealed class ResolvedTool(string program, string? firstArgument, string source, string identity)
{
    public string Program { get; } = program;
    public string? FirstArgument { get; } = firstArgument;
    public string Source { get; } = source;
    public string Identity { get; } = identity;
}

/// <summary>
/// Finds the mechanist program the way .NET users expect: an explicit <c>MechanistToolPath</c> first; then the
/// version pinned in the nearest local tool manifest (<c>.config/dotnet-tools.json</c> or <c>dotnet-tools.json</c> in
/// the project's folder or above) that lists the <c>mechanist</c> command, run as <c>dotnet mechanist</c>; then a
/// <c>mechanist</c> on the PATH; then <c>~/.dotnet/tools/mechanist</c> (a global tool). Wherever it was found, its
/// identity (the pinned version, or the file's path, size and time, and the versions in the tool store) is an
/// input of the check, so installing another version runs the check again.
/// </summary>
public static class ToolResolver
{
    public const string Command = "mechanist";

    public static ResolvedTool Resolve(string? toolPath, string projectDirectory, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (!string.IsNullOrEmpty(toolPath))
        {
            var full = Path.GetFullPath(toolPath);
            bool dll = full.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
            var identity = "path|" + FileIdentity(full);
            if (!dll)
            {
                var sibling = Path.Combine(Path.GetDirectoryName(full) ?? ".", Command + ".dll");
                if (File.Exists(sibling)) identity += "|" + FileIdentity(sibling);
            }
            return new ResolvedTool(dll ? DotnetHost(environment) : full, dll ? full : null, $"MechanistToolPath ({full})", identity);
        }
        if (FindLocalTool(projectDirectory) is { } local)
            return new ResolvedTool(DotnetHost(environment), Command, $"local tool {local.Package} {local.Version} ({local.Manifest})",
                $"local|{local.Manifest}|{local.Package}|{local.Version}");
        foreach (var name in new[] { Command, Command + ".exe" })
            foreach (var dir in (environment("PATH") ?? "").Split(Path.PathSeparator))
            {
                if (dir.Length == 0) continue;
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate)) return new ResolvedTool(candidate, null, $"PATH ({candidate})", "path|" + FileIdentity(candidate) + StoreIdentity(environment));
            }
        var home = environment("HOME") ?? environment("USERPROFILE");
        if (home is not null)
            foreach (var name in new[] { Command, Command + ".exe" })
            {
                var global = Path.Combine(home, ".dotnet", "tools", name);
                if (File.Exists(global)) return new ResolvedTool(global, null, $"global tool ({global})", "global|" + FileIdentity(global) + StoreIdentity(environment));
            }
        return new ResolvedTool(DotnetHost(environment), Command, "not found (trying 'dotnet mechanist')", "unresolved");
    }

    /// <summary>A local tool manifest entry for the <c>mechanist</c> command.</summary>
    public sealed class LocalTool(string manifest, string package, string version)
    {
        public string Manifest { get; } = manifest;
        public string Package { get; } = package;
        public string Version { get; } = version;
    }

    static readonly Regex ToolEntry = new(
        "\"(?<package>[^\"]+)\"\\s*:\\s*\\{(?<body>[^{}]*)\\}", RegexOptions.Singleline);

    /// <summary>
    /// The nearest manifest, from <paramref name="directory"/> up, whose tools include the <c>mechanist</c> command
    /// (the SDK reads <c>.config/dotnet-tools.json</c> and <c>dotnet-tools.json</c> in each folder).
    /// </summary>
    public static LocalTool? FindLocalTool(string directory)
    {
        for (var dir = new DirectoryInfo(Path.GetFullPath(directory)); dir is not null; dir = dir.Parent)
        {
            foreach (var manifest in new[] { Path.Combine(dir.FullName, ".config", "dotnet-tools.json"), Path.Combine(dir.FullName, "dotnet-tools.json") })
            {
                if (!File.Exists(manifest)) continue;
                string text;
                try { text = File.ReadAllText(manifest); } catch (IOException) { continue; }
                foreach (Match m in ToolEntry.Matches(text))
                {
                    var body = m.Groups["body"].Value;
                    var commands = Regex.Match(body, "\"commands\"\\s*:\\s*\\[(?<list>[^\\]]*)\\]");
                    if (!commands.Success || !Regex.IsMatch(commands.Groups["list"].Value, "\"" + Command + "\"")) continue;
                    var version = Regex.Match(body, "\"version\"\\s*:\\s*\"(?<v>[^\"]+)\"");
                    return new LocalTool(manifest, m.Groups["package"].Value, version.Success ? version.Groups["v"].Value : "");
                }
            }
        }
        return null;
    }

    static string FileIdentity(string path)
    {
        if (!File.Exists(path)) return path + "|missing";
        var info = new FileInfo(path);
        return string.Format(CultureInfo.InvariantCulture, "{0}|{1}|{2}", path, info.Length, info.LastWriteTimeUtc.Ticks);
    }

    /// <summary>The versions of Mechanist.Cli in the global tool store (a <c>dotnet tool update -g</c> changes them).</summary>
    static string StoreIdentity(Func<string, string?> environment)
    {
        var home = environment("HOME") ?? environment("USERPROFILE");
        if (home is null) return "";
        var store = Path.Combine(home, ".dotnet", "tools", ".store", "mechanist.cli");
        if (!Directory.Exists(store)) return "";
        return "|store:" + string.Join(",", Directory.GetDirectories(store).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal));
    }

    static string DotnetHost(Func<string, string?> environment)
    {
        var host = environment("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host! : "dotnet";
    }
}
