using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.Host.Discovery;
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
        var checks = entries.ToDictionary(e => e.Id, e => e.Kind == MethodKind.Validator ? ChecksOf(e, host.Services, env) : []);
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
        env.Out.WriteLine($"{"ID".PadRight(idWidth)}  {"KIND",-12}  {"SOURCE",-10}  TITLE");
        foreach (var e in entries)
        {
            var extra = checks[e.Id].Count > 0 ? $" [{string.Join(", ", checks[e.Id])}]" : "";
            if (e.Descriptor.Requires != ValidationInputs.None) extra += $" (needs {ValidationInputNames.Format(e.Descriptor.Requires)})";
            env.Out.WriteLine($"{e.Id.PadRight(idWidth)}  {e.Kind.ToName(),-12}  {(e.IsBuiltIn ? "built-in" : "plugin"),-10}  {e.Descriptor.Title}{extra}");
        }
        return ExitCodes.Ok;
    }

    static List<string> ChecksOf(MethodEntry entry, IServiceProvider services, CommandEnvironment env)
    {
        try
        {
            return MethodInvoker.Invoke(entry, () => MethodCatalog.Create<Validator>(entry, services).SupportedChecks.Select(c => c.Id).ToList());
        }
        catch (MethodFailedException e)
        {
            env.Error.WriteLine(e.ToFinding().ToString());
            return [];
        }
    }
}
