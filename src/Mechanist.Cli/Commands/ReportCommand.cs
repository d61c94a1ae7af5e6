using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.Host.Activations;
using Mechanist.Host.Formats;
using Mechanist.Host.Models;
using Mechanist.IO;
using Mechanist.Models;
using Mechanist.Models.Text;
using Mechanist.Options;
using Mechanist.Reports.Html;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist report</c>: a feature dashboard of a decomposition as one self-contained HTML file — an index of
/// features with search and sort, and per feature its activation histogram, top examples and quantile samples with
/// token highlighting, output effects and the findings of a check. Whatever cannot be shown is stated on the page.
/// </summary>
public sealed class ReportCommand : ICommand
{
    static readonly string[] Interpreters = [FeatureDashboards.TopExamplesId, FeatureDashboards.OutputEffectsId];

    public string Name => "report";
    public string Summary => "a feature dashboard (one offline HTML file): index, search, sort, per-feature cards with examples and effects";
    public string Usage => "--decomposition DIR [--model DIR] [--tokens FILE|IDS] [--activations FILE] [--site SITE] [--features LIST] [--check FILE [--name NAME]] [--set METHOD.key=value]... [--seed S] [--device D] [--plugins DIR]... --out FILE.html";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("decomposition", "SAELens-layout folder whose features the dashboard shows", ValueName: "DIR"),
        new("model", "model folder: harvests activations from --tokens, supplies token text and output effects", ValueName: "DIR"),
        CommonOptions.Tokens,
        new("activations", "precomputed activations [N, d_in] (rows matching --tokens when given)", ValueName: "FILE"),
        new("site", "hook site the decomposition reads (default: its cfg.json hook_name)", ValueName: "SITE"),
        new("features", "features to show: \"0,5,17\" or \"0-31\" (default: all)", ValueName: "LIST"),
        new("check", "a 'mechanist check --format json' report: its findings about this decomposition go on the cards", ValueName: "FILE"),
        new("name", "the decomposition's name in the --check report (default: the folder's name)", ValueName: "NAME"),
        new("harvest-batch", "sequences per forward pass when harvesting (default 64)", ValueName: "N"),
        CommonOptions.Set, CommonOptions.Seed, CommonOptions.Device, CommonOptions.Plugins,
        new("out", "the HTML file to write (atomically)", ValueName: "FILE.html"),
        CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var decompositionDir = args.Require("decomposition");
        var outPath = args.Require("out");
        if (!outPath.EndsWith(".html", StringComparison.OrdinalIgnoreCase) && !outPath.EndsWith(".htm", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"--out {outPath}: a dashboard is one HTML file; name it FILE.html.");
        var seed = CommonOptions.ParseSeed(args);
        var device = CommonOptions.ParseDevice(args);
        int harvestBatch = args.GetInt("harvest-batch", 64);
        if (harvestBatch < 1) throw new UsageException("option '--harvest-batch' must be at least 1.");
        if (args.Has("name") && !args.Has("check")) throw new UsageException("--name names the decomposition in a --check report; give --check FILE too.");
        var settings = Interpreters.ToDictionary(id => id, id => args.Settings(id, Interpreters));

        using var host = CommonOptions.CreateHost(args, env);
        using var decomposition = DecompositionFolder.Load(decompositionDir);
        var features = args.Get("features") is { } list ? FeatureList.Parse(list, decomposition.DSae) : null;
        var site = args.Get("site") ?? (decomposition.Metadata.HookName is { Length: > 0 } h ? h : null);
        var name = args.Get("name") ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(decompositionDir)));
        var findings = args.Get("check") is { } checkPath ? CheckFindingsFile.Read(checkPath, name) : null;

        var modelDir = args.Get("model");
        using var model = modelDir is null ? null : ModelFolder.Load(modelDir, host.Catalog, host.Services, device, seed);
        if (model is not null && site is not null && !model.HookSites.Contains(site))
        {
            var closest = NameSuggester.Closest(site, model.HookSites);
            throw new MechanistInputException(
                $"--site {site}: model '{model.ModelType}' has no such hook site.{(closest is null ? "" : $" Did you mean '{closest}'?")}");
        }

        using var scope = NewDisposeScope();
        var tokens = TokenArgument.Get(args)?.Matrix(model as ILanguageModel);
        ActivationMatrix? activations = null;
        var gaps = new List<string>();
        if (args.Get("activations") is { } actsPath) activations = ActivationFiles.Load(actsPath);
        else if (model is not null && tokens is not null && site is not null)
        {
            activations = Harvester.Matrix(model, tokens.to(device), site, harvestBatch, decomposition.DIn, out var perToken);
            if (!perToken)
            {
                tokens = null;
                gaps.Add($"The site {site} has one activation per sequence, not per token: examples have no token context.");
            }
        }
        else if (tokens is not null)
            throw new UsageException(model is null
                ? "--tokens without --activations needs --model DIR to harvest the activations from."
                : "--tokens without --activations needs a site to harvest (--site, or the decomposition's hook_name).");
        using var _ = activations;
        if (activations is not null && activations.Dimension != decomposition.DIn)
            throw new MechanistInputException(
                $"{activations.Name}: activations have dimension {activations.Dimension} but the decomposition's d_in is {decomposition.DIn}.");

        var request = new DashboardRequest
        {
            // Paths as the user gave them: the page reads like the command that made it.
            Decomposition = decomposition, DecompositionPath = decompositionDir, Site = site, ModelPath = modelDir, Activations = activations, Tokens = tokens,
            TokenText = (model as ITokenizedModel)?.TokenText,
            Unembedding = (model as IEmbeddingModel)?.Unembedding(site), Features = features,
            Settings = settings.ToDictionary(kv => kv.Key, kv => kv.Value), Findings = findings, Gaps = gaps, Seed = seed, Device = device,
        };
        var dashboard = FeatureDashboards.Build(request, host.Catalog, host.Services);
        var html = DashboardPage.Render(dashboard, CliApp.Version);
        AtomicFile.WriteText(outPath, html);

        env.Out.WriteLine($"dashboard: {dashboard.Features.Count} feature(s) of {Path.GetFullPath(decompositionDir)}" +
                          $"{(activations is null ? "" : $" over {activations.Count.ToString("N0", CultureInfo.InvariantCulture)} rows")} -> " +
                          $"{Path.GetFullPath(outPath)} ({html.Length / 1024.0:0.#} KiB)");
        foreach (var gap in dashboard.Gaps) env.Out.WriteLine($"  not shown: {gap}");
        return ExitCodes.Ok;
    }
}
