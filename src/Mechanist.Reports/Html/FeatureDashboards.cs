using System.Globalization;
using System.Text.Json.Nodes;
using Mechanist.Decomposers;
using Mechanist.Host.Discovery;
using Mechanist.Host.Running;
using Mechanist.Interpreters;
using TorchSharp;

namespace Mechanist.Reports.Html;

/// <summary>What a dashboard is built from; every input but the decomposition is optional, and each one missing is a stated gap.</summary>
public sealed record DashboardRequest
{
    public required Decomposition Decomposition { get; init; }

    /// <summary>The decomposition's folder, shown on the page.</summary>
    public required string DecompositionPath { get; init; }

    /// <summary>Names the dashboard when a page holds several (a check report: the decomposition's name).</summary>
    public string Key { get; init; } = "";

    public string? Site { get; init; }

    /// <summary>The model folder, shown on the page.</summary>
    public string? ModelPath { get; init; }

    /// <summary>Activation rows [N, d_in]: statistics, histograms and examples come from them.</summary>
    public IActivationSource? Activations { get; init; }

    /// <summary>Token ids [n_seq, seq_len] covering the activation rows: examples get their context.</summary>
    public torch.Tensor? Tokens { get; init; }

    /// <summary>The model's tokenizer (token id → text); without one, tokens show as ids.</summary>
    public Func<long, string>? TokenText { get; init; }

    /// <summary>[d_in, vocab]: output effects read decoder directions through it.</summary>
    public torch.Tensor? Unembedding { get; init; }

    /// <summary>Features to show (all when null).</summary>
    public IReadOnlyList<int>? Features { get; init; }

    /// <summary>Options of the interpreters, by method ID (<c>top-examples</c>, <c>output-effects</c>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Settings { get; init; } =
        new Dictionary<string, IReadOnlyDictionary<string, string>>();

    /// <summary>Findings of a check about this decomposition: a feature's findings go on its card, the rest above the index.</summary>
    public IReadOnlyList<(FindingView Finding, int? Feature)>? Findings { get; init; }

    /// <summary>Why there are no findings to show, when <see cref="Findings"/> is null (a stated gap).</summary>
    public string NoFindingsGap { get; init; } =
        "No check results: causal and consistency findings appear on the cards when a check's JSON report is given (--check FILE from 'mechanist check --format json').";

    /// <summary>Gaps the caller already knows of (added to the ones found here).</summary>
    public IReadOnlyList<string> Gaps { get; init; } = [];

    public int Seed { get; init; }
    public torch.Device Device { get; init; } = torch.CPU;
}

/// <summary>
/// Builds feature dashboards: runs the <c>top-examples</c> and <c>output-effects</c> interpreters where their inputs
/// exist (through the catalog, so a method that throws is MECH0001 like anywhere else) and gathers their records into
/// one card per feature. What cannot be shown is listed as a gap, never silently left out.
/// </summary>
public static class FeatureDashboards
{
    public const string TopExamplesId = "top-examples", OutputEffectsId = "output-effects";

    public static FeatureDashboard Build(DashboardRequest request, MethodCatalog catalog, IServiceProvider services)
    {
        var gaps = new List<string>(request.Gaps);
        IReadOnlyList<FeatureExplanation>? examples = null, effects = null;
        if (request.Activations is not null)
        {
            examples = Run(TopExamplesId, request, catalog, services);
            if (request.Tokens is null)
                gaps.Add("No tokens: examples are activation rows without context (give the token ids the activations were harvested from, or a model and tokens to harvest with).");
            else if (request.TokenText is null)
                gaps.Add("The model has no known tokenizer: tokens are shown by id (#id).");
        }
        else gaps.Add("No activations: no firing statistics, histograms or examples (give activations, or a model and tokens to harvest them from).");
        if (request.Unembedding is not null) effects = Run(OutputEffectsId, request, catalog, services);
        else gaps.Add(request.ModelPath is null
            ? "No model: no output effects (promoted and suppressed tokens need the model's unembedding)."
            : "The model's weights hold no unembedding (unembed.W_U, lm_head.weight or wte.weight): no output effects.");
        if (request.Findings is null) gaps.Add(request.NoFindingsGap);

        var features = request.Features ?? Enumerable.Range(0, request.Decomposition.DSae).ToList();
        var dashboard = FromExplanations(features, examples, effects, request.TokenText, request.Findings);
        long rows = request.Activations?.Count ?? 0;
        var facts = new List<KeyValuePair<string, string>>
        {
            new("decomposition", $"{request.DecompositionPath} ({request.Decomposition.Architecture}, d_in {request.Decomposition.DIn}, d_sae {request.Decomposition.DSae})"),
        };
        if (request.Site is not null) facts.Add(new("site", request.Site));
        if (request.ModelPath is not null) facts.Add(new("model", request.ModelPath));
        if (request.Activations is not null) facts.Add(new("activations", $"{request.Activations.Name}: {rows.ToString("N0", CultureInfo.InvariantCulture)} rows"));
        if (features.Count != request.Decomposition.DSae) facts.Add(new("features shown", $"{features.Count} of {request.Decomposition.DSae}"));
        return dashboard with
        {
            Key = request.Key,
            Title = request.Key.Length > 0 ? request.Key : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(request.DecompositionPath))),
            Facts = facts, Gaps = gaps, DSae = request.Decomposition.DSae, Rows = rows,
        };
    }

    static IReadOnlyList<FeatureExplanation> Run(string id, DashboardRequest request, MethodCatalog catalog, IServiceProvider services)
    {
        var entry = catalog.Resolve(id, MethodKind.Interpreter);
        var options = MethodCatalog.BindOptions(entry, request.Settings.GetValueOrDefault(id) ?? new Dictionary<string, string>());
        var interpreter = MethodCatalog.Create<Interpreter>(entry, services);
        var context = new InterpretContext
        {
            Decomposition = request.Decomposition, Activations = request.Activations, Features = request.Features, Site = request.Site,
            Tokens = request.Tokens, TokenText = request.TokenText, Unembedding = request.Unembedding, Options = options,
            Seed = request.Seed, Device = request.Device,
        };
        torch.random.manual_seed(request.Seed);
        return MethodInvoker.Invoke(entry, () => interpreter.Interpret(context));
    }

    /// <summary>
    /// One card per feature from the records of <c>top-examples</c> and <c>output-effects</c> (as <c>mechanist
    /// interpret</c> writes them), with each feature's findings.
    /// </summary>
    public static FeatureDashboard FromExplanations(IReadOnlyList<int> features, IReadOnlyList<FeatureExplanation>? examples,
        IReadOnlyList<FeatureExplanation>? effects, Func<long, string>? tokenText = null, IReadOnlyList<(FindingView Finding, int? Feature)>? findings = null)
    {
        var byFeature = features.Distinct().ToDictionary(f => f, f => new FeatureCard { Index = f });
        foreach (var e in examples ?? [])
            if (byFeature.TryGetValue(e.Feature, out var card)) byFeature[e.Feature] = WithExamples(card, e, tokenText);
        foreach (var e in effects ?? [])
            if (byFeature.TryGetValue(e.Feature, out var card)) byFeature[e.Feature] = WithEffects(card, e, tokenText);
        var general = new List<FindingView>();
        foreach (var (finding, feature) in findings ?? [])
        {
            if (feature is int f && byFeature.TryGetValue(f, out var card)) byFeature[f] = card with { Findings = [.. card.Findings, finding] };
            else general.Add(finding);
        }
        return new FeatureDashboard
        {
            Title = "features", Features = features.Distinct().Select(f => byFeature[f]).ToList(), Findings = general,
        };
    }

    static FeatureCard WithExamples(FeatureCard card, FeatureExplanation e, Func<long, string>? tokenText)
    {
        var d = e.Details;
        IReadOnlyList<long>? histogram = d["histogram"]?["counts"] is JsonArray counts ? counts.Select(c => Long(c) ?? 0).ToList() : null;
        return card with
        {
            Summaries = [.. card.Summaries, e.Summary],
            Frequency = Double(d["frequency"]), ActiveCount = Long(d["active_count"]), MaxActivation = Double(d["max_activation"]),
            MeanActiveActivation = Double(d["mean_active_activation"]), Histogram = histogram,
            Top = (d["top"] as JsonArray ?? []).OfType<JsonObject>().Select(x => ReadExample(x, tokenText)).ToList(),
            Quantiles = (d["quantiles"] as JsonArray ?? []).OfType<JsonObject>().Select(q => new QuantileBand(
                (int)(Long(q["quantile"]) ?? 0), Double(q["range"]?[0]) ?? 0, Double(q["range"]?[1]) ?? 0, Long(q["count"]) ?? 0,
                (q["samples"] as JsonArray ?? []).OfType<JsonObject>().Select(x => ReadExample(x, tokenText)).ToList())).ToList(),
        };
    }

    static FeatureCard WithEffects(FeatureCard card, FeatureExplanation e, Func<long, string>? tokenText)
    {
        var d = e.Details;
        IReadOnlyList<TokenEffect> Tokens(string key) => (d[key] as JsonArray ?? []).OfType<JsonObject>().Select(t =>
        {
            long id = Long(t["token"]) ?? -1;
            return new TokenEffect(id, Text(t["text"]) ?? (tokenText is null ? null : tokenText(id)), Double(t["logit_effect"]) ?? double.NaN);
        }).ToList();
        return card with
        {
            Summaries = [.. card.Summaries, e.Summary],
            OutputEffects = new OutputEffectsView(Double(d["decoder_norm"]), Tokens("promoted"), Tokens("suppressed"), Text(d["definition"])),
        };
    }

    static Example ReadExample(JsonObject x, Func<long, string>? tokenText)
    {
        IReadOnlyList<TokenCell>? window = null;
        if (x["tokens"] is JsonArray ids)
        {
            var texts = x["text"] as JsonArray;
            var acts = x["activations"] as JsonArray;
            window = ids.Select((id, i) =>
            {
                long token = Long(id) ?? -1;
                var text = Text(texts?[i]) ?? (tokenText is null ? null : tokenText(token));
                return new TokenCell(token, text, Double(acts?[i]) ?? 0);
            }).ToList();
        }
        return new Example(Long(x["row"]) ?? -1, Double(x["activation"]) ?? double.NaN, window, (int)(Long(x["focus"]) ?? 0),
            Long(x["sequence"]), Long(x["position"]));
    }

    /// <summary>A number, whatever CLR type a record built in memory holds it as; "NaN"/"Infinity" strings as those values.</summary>
    static double? Double(JsonNode? n) => n is not JsonValue v ? null
        : v.GetValueKind() == System.Text.Json.JsonValueKind.Number ? double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture)
        : v.TryGetValue<string>(out var s) && s is "NaN" or "Infinity" or "-Infinity" ? double.Parse(s, CultureInfo.InvariantCulture)
        : null;

    static long? Long(JsonNode? n) => Double(n) is double d && double.IsFinite(d) ? (long)d : null;
    static string? Text(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
