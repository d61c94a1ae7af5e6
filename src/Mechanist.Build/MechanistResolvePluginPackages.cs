using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.Serialization.Json;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using TaskItem = Microsoft.Build.Utilities.TaskItem;

namespace Mechanist.Build;

/// <summary>
/// Finds the plugin packages among a project's package references, as NuGet finds analyzers by their folder: every
/// package in the project's restore graph (<c>project.assets.json</c>) whose files include <c>mechanist/plugins/NAME/…</c>
/// gives one plugin folder, passed to <c>mechanist check</c> as <c>--plugins</c>. No path is written anywhere: a
/// <c>&lt;PackageReference&gt;</c> is enough, and the package's ID and version say where the plugin came from.
/// </summary>
public sealed class MechanistResolvePluginPackages : Microsoft.Build.Utilities.Task
{
    /// <summary>The folder of a package that holds plugins.</summary>
    public const string PluginFolder = "mechanist/plugins/";

    /// <summary><c>$(ProjectAssetsFile)</c>; nothing is found when it does not exist (a project that was never restored).</summary>
    [Required]
    public string AssetsFile { get; set; } = "";

    /// <summary>The target framework whose graph is read (<c>$(TargetFramework)</c>); empty: the first.</summary>
    public string? TargetFramework { get; set; }

    public string? RuntimeIdentifier { get; set; }

    /// <summary>One item per plugin folder (its full path), with <c>PackageId</c>, <c>PackageVersion</c> and <c>PluginName</c>.</summary>
    [Output]
    public ITaskItem[] Plugins { get; set; } = [];

    public override bool Execute()
    {
        if (!File.Exists(AssetsFile)) return true;
        XElement root;
        try
        {
            var bytes = File.ReadAllBytes(AssetsFile);
            using var reader = JsonReaderWriterFactory.CreateJsonReader(bytes, new XmlDictionaryReaderQuotas { MaxDepth = 256, MaxStringContentLength = int.MaxValue, MaxArrayLength = int.MaxValue, MaxNameTableCharCount = int.MaxValue });
            root = XElement.Load(reader);
        }
        catch (XmlException e)
        {
            Log.LogWarning(null, "MECH0012", null, AssetsFile, 1, 1, 0, 0, "{0} could not be read, so plugin packages were not looked for: {1}", AssetsFile, e.Message);
            return true;
        }
        var folders = Members(Member(root, "packageFolders")).Select(m => m.Name).ToList();
        var targets = Members(Member(root, "targets")).ToList();
        var key = string.IsNullOrEmpty(RuntimeIdentifier) ? TargetFramework : $"{TargetFramework}/{RuntimeIdentifier}";
        var target = targets.FirstOrDefault(t => t.Name == key).Value
            ?? targets.FirstOrDefault(t => t.Name == TargetFramework).Value
            ?? (string.IsNullOrEmpty(TargetFramework) ? targets.FirstOrDefault().Value : null);
        if (target is null) return true;
        var libraries = Members(Member(root, "libraries")).ToDictionary(m => m.Name, m => m.Value);
        var found = new List<ITaskItem>();
        foreach (var (name, entry) in Members(target))
        {
            if ((string?)Member(entry, "type") != "package" || !libraries.TryGetValue(name, out var library)) continue;
            var path = (string?)Member(library, "path");
            var files = Member(library, "files")?.Elements().Select(e => e.Value.Replace('\\', '/')).Where(f => f.StartsWith(PluginFolder, System.StringComparison.OrdinalIgnoreCase)).ToList();
            if (path is null || files is null || files.Count == 0) continue;
            var packageRoot = folders.Select(f => Path.Combine(f, path)).FirstOrDefault(Directory.Exists);
            if (packageRoot is null)
            {
                Log.LogWarning(null, "MECH0012", null, AssetsFile, 1, 1, 0, 0, "package {0} holds Mechanist plugins, but it is not in any package folder ({1}); run a restore", name, string.Join(", ", folders));
                continue;
            }
            int slash = name.IndexOf('/');
            foreach (var plugin in files.Select(f => f.Substring(PluginFolder.Length).Split('/')).Where(p => p.Length > 1).Select(p => p[0]).Distinct())
            {
                var item = new TaskItem(Path.GetFullPath(Path.Combine(packageRoot, "mechanist", "plugins", plugin)));
                item.SetMetadata("PackageId", slash < 0 ? name : name.Substring(0, slash));
                item.SetMetadata("PackageVersion", slash < 0 ? "" : name.Substring(slash + 1));
                item.SetMetadata("PluginName", plugin);
                found.Add(item);
                Log.LogMessage(MessageImportance.Low, "mechanist: plugin {0} from package {1}", plugin, name);
            }
        }
        Plugins = found.ToArray();
        return true;
    }

    /// <summary>A JSON object's member by name, from the XML that the JSON reader makes of it.</summary>
    static XElement? Member(XElement? obj, string name) => obj is null ? null : Members(obj).FirstOrDefault(m => m.Name == name).Value;

    /// <summary>
    /// A JSON object's members: the reader writes a member whose name is a valid XML name as an element of that name, and
    /// any other (a path, "Name/Version") as <c>&lt;a:item item="NAME"&gt;</c>.
    /// </summary>
    static IEnumerable<(string Name, XElement Value)> Members(XElement? obj)
    {
        if (obj is null) yield break;
        foreach (var e in obj.Elements())
            yield return (e.Name.LocalName == "item" && e.Attribute("item") is { } a ? a.Value : XmlConvert.DecodeName(e.Name.LocalName), e);
    }
}
