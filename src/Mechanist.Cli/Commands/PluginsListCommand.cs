using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.Host.Discovery;
using Mechanist.Host.Plugins;
using Mechanist.Host.Running;
using Mechanist.Options;
using Mechanist.Validators;

namespace Mechanist.Cli.Commands;

/// <summary><c>mechanist plugins list</c>: every method the host can see, built-in and plugin.</summary>
public sealed class PluginsListCommand : ICommand
{
    public string Name => "plugins list";
    public string Summary => "every method the host can see, built-in and plugin, with IDs and checks";
    public string Usage => "[--plugins DIR]... [--format text|json]";
    public IReadOnlyList<OptionSpec> Options { get; } =
        [CommonOptions.Plugins, CommonOptions.Format, CommonOptions.Verbose, CommonOptions.Help];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var format = args.GetChoice("format", "text", "text", "json");
        using var host = CommonOptions.CreateHost(args, env);
        var entries = host.Catalog.Entries.OrderBy(e => e.Kind).ThenBy(e => e.Id, StringComparer.Ordinal).ToList();
        // Every validator's declared checks, as a check would read them: unusable declarations and check IDs declared
        // twice are printed (MECH0001, MECH0002, MECH0004) and the other methods are still listed.
        var checkCatalog = CheckCatalog.Build(host.Catalog, host.Services);
        foreach (var finding in checkCatalog.Findings) env.Error.WriteLine(finding.ToString());
        var checks = entries.ToDictionary(e => e.Id, e => checkCatalog.Declared.TryGetValue(e.Id, out var d) ? d.Select(c => c.Id).ToList() : []);
        if (format == "json")
        {
            var array = new JsonArray();
            foreach (var e in entries)
            {
                var o = new JsonObject
                {
                    ["id"] = e.Id,
                    ["kind"] = e.Kind.ToName(),
                    ["title"] = e.Descriptor.Title,
                    ["assembly"] = e.AssemblyName,
                    ["version"] = e.Version,
                    ["source"] = e.Source,
                    ["origin"] = Origin(e.Origin),
                    ["options"] = new JsonArray(e.Descriptor.Options.Select(opt => (JsonNode?)new JsonObject
                    {
                        ["name"] = opt.Name, ["type"] = opt.TypeName, ["default"] = opt.DefaultValue, ["description"] = opt.Description,
                    }).ToArray()),
                };
                if (e.Kind == MethodKind.Validator)
                {
                    o["checks"] = new JsonArray(checks[e.Id].Select(c => (JsonNode?)c).ToArray());
                    // What the validator needs to run (its attribute's Requires): mechanist check refuses an entry without it.
                    o["requires"] = new JsonArray(Enum.GetValues<ValidationInputs>().Where(f => f != ValidationInputs.None && e.Descriptor.Requires.HasFlag(f))
                        .Select(f => (JsonNode?)OptionSchema.ToSnakeCase(f.ToString())).ToArray());
                }
                array.Add(o);
            }
            env.Out.WriteLine(array.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return ExitCodes.Ok;
        }
        int idWidth = Math.Max(2, entries.Select(e => e.Id.Length).DefaultIfEmpty(0).Max());
        var origins = entries.ToDictionary(e => e.Id, e => OriginText(e));
        int originWidth = Math.Max(6, origins.Values.Select(o => o.Length).DefaultIfEmpty(0).Max());
        env.Out.WriteLine($"{"ID".PadRight(idWidth)}  {"KIND",-12}  {"ORIGIN".PadRight(originWidth)}  TITLE");
        foreach (var e in entries)
        {
            var extra = checks[e.Id].Count > 0 ? $" [{string.Join(", ", checks[e.Id])}]" : "";
            if (e.Descriptor.Requires != ValidationInputs.None) extra += $" (needs {ValidationInputNames.Format(e.Descriptor.Requires)})";
            env.Out.WriteLine($"{e.Id.PadRight(idWidth)}  {e.Kind.ToName(),-12}  {origins[e.Id].PadRight(originWidth)}  {e.Descriptor.Title}{extra}");
        }
        return ExitCodes.Ok;
    }

    /// <summary>"built-in", "package Acme.Methods 1.2.0", or "folder Acme.Methods" (the plugin assembly's folder; --format json has its path).</summary>
    static string OriginText(MethodEntry e) => e.Origin.Kind switch
    {
        PluginOrigin.PackageKind => $"package {e.Origin.PackageId} {e.Origin.PackageVersion}",
        PluginOrigin.FolderKind => $"folder {Path.GetFileName(Path.GetDirectoryName(e.Source))}",
        _ => e.Origin.Kind,
    };

    static JsonObject Origin(PluginOrigin o)
    {
        var node = new JsonObject { ["kind"] = o.Kind };
        if (o.Path is not null) node["path"] = o.Path;
        if (o.PackageId is not null) node["package"] = o.PackageId;
        if (o.PackageVersion is not null) node["packageVersion"] = o.PackageVersion;
        return node;
    }
}
