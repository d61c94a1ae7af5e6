// Concept-based interpretability on a transformer whose concepts are known, using only Mechanist's public API.
// The model (samples/models/brackets/, trained with `mechanist train brackets`) reads the bracket language: nested
// round and square brackets with fillers. The state behind every token is recorded (its depth, the type of the
// innermost open bracket, the token's kind), so each method is scored against the truth:
//   1. linear probes with control tasks find each concept, and at the layers where the model can have computed it;
//   2. a sparse autoencoder's latents align with the concepts (best latent's correlation, sparse probing);
//   3. TCAV is significant for the true concept and not for the same labels shuffled;
//   4. steering along a concept latent changes the next-token distribution the concept predicts;
//   5. the attention heads that carry a concept, by ablation and by attribution patching of the probe;
//   6. AtP* against attribution patching, with activation patching as the ground truth.
//
//   dotnet run --project samples/concepts -- [--model DIR] [--data FILE] [--site SITE] [--sae-steps N] [--seed S] [--out DIR]

using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist;
using Mechanist.Attribution;
using Mechanist.Concepts;
using Mechanist.Decomposers;
using Mechanist.Host;
using Mechanist.Host.Discovery;
using Mechanist.IO;
using Mechanist.Methods.Concepts;
using Mechanist.Methods.Evaluation;
using Mechanist.Methods.Validators;
using Mechanist.Models;
using Mechanist.Models.Tasks;
using Mechanist.Models.Text;
using static TorchSharp.torch;

var inv = CultureInfo.InvariantCulture;
var clock = System.Diagnostics.Stopwatch.StartNew();
var repo = FindRepo();
var modelDir = Path.Combine(repo, "samples", "models", "brackets");
var dataPath = Path.Combine(repo, "samples", "concepts", "data", "brackets.safetensors");
string? outDir = null;
string? featureSite = null;
int seed = 0, saeSteps = 3000;
for (int i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new MechanistInputException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--model": modelDir = Value(); break;
        case "--data": dataPath = Value(); break;
        case "--out": outDir = Value(); break;
        case "--site": featureSite = Value(); break;
        case "--seed": seed = int.Parse(Value(), inv); break;
        case "--sae-steps": saeSteps = int.Parse(Value(), inv); break;
        case "--help":
            Console.WriteLine("usage: dotnet run --project samples/concepts -- [--model DIR] [--data FILE] [--site SITE] [--sae-steps N] [--seed S] [--out DIR]");
            return 0;
        default: return Fail($"unknown option '{args[i]}'");
    }
}

try
{
    using var host = MechanistHost.Create([]);
    using var model = LoadModel(host, modelDir, seed);
    var vocab = TokenVocabulary.TryRead(modelDir) ?? throw new MechanistInputException($"{modelDir}: no vocab.json");
    var labels = ConceptLabels.Load(dataPath);
    var tokens = labels.Tokens ?? throw new MechanistInputException($"{dataPath}: no 'tokens' tensor beside the labels");
    var config = JsonNode.Parse(File.ReadAllText(Path.Combine(modelDir, "config.json")))!;
    int layers = (int)config["n_layer"]!;
    int maxDepth = (int)config["task_specific_params"]!["brackets"]!["max_depth"]!;
    featureSite ??= $"blocks.{layers - 2}.hook_resid_post";
    Console.WriteLine($"model: {Path.GetFullPath(modelDir)} ({layers} layers, vocabulary {string.Join(" ", Enumerable.Range(0, vocab.Count).Select(t => vocab.Text(t)))})");
    Console.WriteLine($"data: {Path.GetFullPath(dataPath)}: {tokens.shape[0]} sequences of {tokens.shape[1]} tokens; concepts {string.Join(", ", labels.Names)}");
    var results = new JsonObject { ["model"] = Path.GetFileName(modelDir.TrimEnd('/')), ["sequences"] = tokens.shape[0], ["seq_len"] = tokens.shape[1] };

    // 1. Probes per layer and concept, with control tasks.
    var sites = Enumerable.Range(0, layers).SelectMany(l => new[] { $"blocks.{l}.hook_resid_pre", $"blocks.{l}.hook_resid_mid" })
        .Append($"blocks.{layers - 1}.hook_resid_post").ToList();
    var concepts = new[] { "kind", "depth", "top" };
    var probeSettings = new ProbeSettings { Control = ControlKey.TokenPosition, MaxTrainRows = 6000 };
    var probes = LinearProbe.Run(model, tokens, labels, sites, concepts, probeSettings, seed);
    Console.WriteLine();
    Console.WriteLine("1. linear probes (held-out accuracy / control-task accuracy / selectivity; control labels a random function of (token, position)):");
    Console.WriteLine($"  {"site",-26}" + string.Concat(concepts.Select(c => $"{c,-24}")));
    foreach (var site in sites)
        Console.WriteLine($"  {site,-26}" + string.Concat(concepts.Select(c =>
        {
            var s = probes.Single(p => p.Site == site && p.Concept == c);
            return $"{s.Accuracy.ToString("0.000", inv)} / {s.ControlAccuracy.ToString("0.000", inv)} / {s.Selectivity.ToString("0.000", inv),-7}";
        })));
    results["probes"] = new JsonArray(probes.Select(p => (JsonNode)new JsonObject
    {
        ["site"] = p.Site, ["concept"] = p.Concept, ["accuracy"] = p.Accuracy, ["control_accuracy"] = p.ControlAccuracy,
        ["selectivity"] = p.Selectivity, ["majority"] = p.Majority,
    }).ToArray());

    Console.Error.WriteLine($"[{clock.Elapsed.TotalSeconds:F0} s]");
    // 2. Sparse autoencoders; their latents against the concepts.
    var steerSite = $"blocks.{layers - 1}.hook_resid_mid";
    var rows = SiteActivations.Harvest(model, tokens, [featureSite, steerSite]);
    Decomposition FitSae(string site)
    {
        var entry = host.Catalog.Resolve("sae.topk", MethodKind.Decomposer);
        var options = MethodCatalog.BindOptions(entry, new Dictionary<string, string>
        {
            ["k"] = "4", ["d_sae"] = "128", ["steps"] = saeSteps.ToString(inv), ["batch_size"] = "512",
        });
        using var matrix = new ActivationMatrix(site, rows[site]);
        return MethodCatalog.Create<Decomposer>(entry, host.Services).Fit(new DecomposeContext
        {
            Activations = matrix, Options = options, Seed = seed, HookName = site,
        });
    }
    using var sae = FitSae(featureSite);
    using var steerSae = FitSae(steerSite);
    DecompositionMetrics Quality(Decomposition d, string site)
    {
        using var matrix = new ActivationMatrix(site, rows[site]);
        return DecompositionMetrics.Compute(d, matrix);
    }
    var quality = Quality(sae, featureSite);
    var steerQuality = Quality(steerSae, steerSite);
    var latents = sae.Encode(rows[featureSite]);
    Console.Error.WriteLine($"[{clock.Elapsed.TotalSeconds:F0} s]");
    Console.WriteLine();
    Console.WriteLine($"2. sae.topk (k = 4, 128 latents, {saeSteps} steps) at {featureSite}: FVU {quality.Fvu.ToString("0.000", inv)}, L0 {quality.L0.ToString("0.0", inv)} (at {steerSite}: FVU {steerQuality.Fvu.ToString("0.000", inv)})");
    Console.WriteLine("   best latent = largest |Pearson r| with the class indicator; k = accuracy of a probe on the k latents SAEBench selects (largest mean difference)");
    Console.WriteLine($"  {"concept = class",-18}{"best latent",-13}{"r",-8}{"k=1",-7}{"k=2",-7}{"k=5",-7}{"raw",-7}");
    var split = RowSplit.BySequence(tokens.shape[0], tokens.shape[1], 0.2, seed);
    var sparse = new List<SparseProbingResult>();
    foreach (var name in new[] { "top", "depth" })
    {
        var concept = labels[name];
        for (int c = 0; c < concept.Classes.Count; c++)
        {
            var r = SparseProbing.Run(latents, rows[featureSite], concept, c, split, [1, 2, 5], 1e-3, 8000, seed);
            sparse.Add(r);
            Console.WriteLine($"  {name + " = " + r.Class,-18}{r.BestLatent,-13}{r.BestCorrelation.ToString("0.000", inv),-8}" +
                string.Concat(r.Sparse.Select(s => $"{s.Accuracy.ToString("0.000", inv),-7}")) + r.RawAccuracy.ToString("0.000", inv));
        }
    }
    var (depthLatent, depthR) = SparseProbing.BestLatent(latents, labels["depth"].Labels);
    Console.WriteLine($"  depth as a number: latent {depthLatent}, r = {depthR.ToString("0.000", inv)}");
    results["sae"] = new JsonObject
    {
        ["site"] = featureSite, ["fvu"] = quality.Fvu, ["l0"] = quality.L0, ["d_sae"] = sae.DSae, ["steer_site"] = steerSite, ["steer_fvu"] = steerQuality.Fvu,
        ["depth_value_latent"] = depthLatent, ["depth_value_correlation"] = depthR,
    };
    results["sparse_probing"] = new JsonArray(sparse.Select(r => (JsonNode)new JsonObject
    {
        ["concept"] = r.Concept, ["class"] = r.Class, ["best_latent"] = r.BestLatent, ["best_correlation"] = r.BestCorrelation,
        ["raw_accuracy"] = r.RawAccuracy,
        ["sparse"] = new JsonArray(r.Sparse.Select(s => (JsonNode)new JsonObject { ["k"] = s.K, ["accuracy"] = s.Accuracy }).ToArray()),
    }).ToArray());

    // 3. TCAV: does "the innermost open bracket is square" matter for preferring ']' over ')'?
    var top = labels["top"];
    int square = top.ClassIndex("square");
    long seqLen = tokens.shape[1];
    var inside = Enumerable.Range(0, (int)tokens.shape[0]).Where(q => top.Labels[(q + 1) * seqLen - 1] != BracketLanguage.TopNone).Select(q => (long)q).ToArray();
    var behaviour = new Behaviour(tokens.index_select(0, tensor(inside)),
        o => o[.., -1, BracketLanguage.CloseSquare] - o[.., -1, BracketLanguage.CloseRound],
        "logit(']') − logit(')') at the last position");
    var tcavSettings = new TcavSettings { RandomCavs = 20, Examples = 200 };
    var tcavTrue = Tcav.Run(model, featureSite, rows[featureSite], top, square, behaviour, tcavSettings, seed);
    var tcavShuffled = Tcav.Run(model, featureSite, rows[featureSite], top.Shuffled(seed + 5), square, behaviour, tcavSettings, seed);
    Console.Error.WriteLine($"[{clock.Elapsed.TotalSeconds:F0} s]");
    Console.WriteLine();
    Console.WriteLine($"3. TCAV at {featureSite} for {behaviour.Description}, over {inside.Length} sequences ending inside a bracket, 20 concept and 20 random CAVs:");
    foreach (var t in new[] { tcavTrue, tcavShuffled })
        Console.WriteLine($"  {t.Concept + " = " + t.Class,-26} score {t.Score.ToString("0.000", inv)} (random CAVs {t.RandomScore.ToString("0.000", inv)}), t = {t.Test.T.ToString("0.00", inv)}, p = {t.Test.P.ToString("G3", inv)}: {(t.Significant ? "significant" : "not significant")} at 0.05; CAV accuracy {t.CavAccuracy.ToString("0.000", inv)}");
    results["tcav"] = new JsonArray(new[] { tcavTrue, tcavShuffled }.Select(t => (JsonNode)new JsonObject
    {
        ["concept"] = t.Concept, ["class"] = t.Class, ["score"] = t.Score, ["random_score"] = t.RandomScore, ["t"] = t.Test.T, ["p"] = t.Test.P,
        ["significant"] = t.Significant, ["cav_accuracy"] = t.CavAccuracy,
        ["concept_scores"] = new JsonArray(t.ConceptScores.Select(v => (JsonNode)v).ToArray()),
        ["random_scores"] = new JsonArray(t.RandomScores.Select(v => (JsonNode)v).ToArray()),
    }).ToArray());

    // 4. Steering along the latent that best tracks "innermost bracket is square", before and in the last block.
    var roundRows = top.Labels.Select((l, r) => (l, r)).Where(x => x.l == BracketLanguage.TopRound).Select(x => (long)x.r).ToArray();
    Console.WriteLine();
    Console.WriteLine($"4. steering along the latent that best tracks top = square (amplitude 2 x its largest activation; validator 'steering'):");
    var steeringJson = new JsonArray();
    var shifts = new List<(string Site, double[] After)>();
    double[] before = [];
    foreach (var (site, dictionary) in new[] { (featureSite, sae), (steerSite, steerSae) })
    {
        var siteLatents = dictionary.Encode(rows[site]);
        var (latent, r) = SparseProbing.BestLatent(siteLatents, top.Labels.Select(l => l == square ? 1L : 0L).ToArray());
        var options = new SteeringOptions { Features = latent.ToString(inv), Scale = 2 };
        var outcome = Steering.Run(model, dictionary, site, tokens, options, seed).Single();
        var findings = new List<Mechanist.Validators.Finding>();
        new Steering().Validate(new Mechanist.Validators.ValidationContext(findings.Add)
        {
            Options = options, Model = model, Decomposition = dictionary, Site = site, Tokens = tokens, Seed = seed,
        });
        var (b, after) = NextTokenShift(model, site, tokens, roundRows, dictionary.DecoderDirections[latent] * outcome.Amplitude);
        before = b;
        shifts.Add((site, after));
        Console.WriteLine($"  at {site}: latent {latent} (r = {r.ToString("0.000", inv)}), amplitude {outcome.Amplitude.ToString("0.00", inv)}; claimed output {string.Join(" ", outcome.Claimed.Select(t => vocab.Text(t)))}: " +
            $"its log-probability {outcome.Effect.ToString("+0.00;-0.00", inv)} nats, random directions of equal norm {outcome.RandomMean.ToString("+0.00;-0.00", inv)} (max {outcome.RandomEffects.Max().ToString("+0.00;-0.00", inv)})");
        Console.WriteLine($"    findings: {(findings.Count == 0 ? "none" : string.Join("; ", findings.Select(f => f.ToString())))}");
        steeringJson.Add(new JsonObject
        {
            ["site"] = site, ["latent"] = latent, ["correlation"] = r, ["amplitude"] = outcome.Amplitude,
            ["claimed"] = new JsonArray(outcome.Claimed.Select(t => (JsonNode)vocab.Text(t)).ToArray()), ["effect"] = outcome.Effect,
            ["random_mean"] = outcome.RandomMean, ["random_max"] = outcome.RandomEffects.Max(),
            ["findings"] = new JsonArray(findings.Select(f => (JsonNode)f.Id).ToArray()), ["inside_round_after"] = ToJson(vocab, after),
        });
    }
    Console.WriteLine($"  mean next-token probability at the {roundRows.Length} tokens inside a round bracket: before -> steered at {string.Join(" / ", shifts.Select(x => x.Site))}");
    for (int t = 0; t < vocab.Count; t++)
        Console.WriteLine($"    {vocab.Text(t),-6} {before[t].ToString("0.000", inv)} -> {string.Join(" / ", shifts.Select(x => x.After[t].ToString("0.000", inv)))}");
    results["steering"] = steeringJson;
    results["inside_round_before"] = ToJson(vocab, before);
    Console.Error.WriteLine($"[{clock.Elapsed.TotalSeconds:F0} s]");

    // 5. Which heads carry the concept: ablation and attribution patching on the probe's log-odds.
    var attributions = new JsonArray();
    Console.WriteLine();
    Console.WriteLine("5. heads carrying top = square: each head mean-ablated, the fall of a probe's log-odds on the class's tokens (and the attribution-patching estimate)");
    var few = tokens.narrow(0, 0, Math.Min(128, tokens.shape[0]));
    var fewTop = new Concept(top.Name, top.Labels.Take((int)few.numel()).ToArray(), top.Classes);
    for (int l = 0; l < layers - 1; l++)
    {
        var headSite = $"blocks.{l}.attn.hook_z";
        var probeSite = $"blocks.{l + 1}.hook_resid_mid";
        var attribution = ConceptAttribution.Run(model, few, fewTop, square, headSite, probeSite, null, new ConceptAttribution.Settings(), seed);
        Console.WriteLine($"  {headSite} (probe at {probeSite}: accuracy {attribution.ProbeAccuracy.ToString("0.000", inv)}, log-odds {attribution.CleanLogOdds.ToString("0.00", inv)} on the class vs {attribution.OtherLogOdds.ToString("0.00", inv)}):");
        foreach (var sc in attribution.Scores.OrderByDescending(x => x.Effect))
            Console.WriteLine($"    {sc.Unit}: {sc.Effect.ToString("0.00", inv)} ({sc.Fraction.ToString("0%", inv)} of the margin); attribution patching {sc.Estimate.ToString("0.00", inv)}");
        foreach (var sc in attribution.Scores)
            attributions.Add(new JsonObject { ["site"] = headSite, ["probe_site"] = probeSite, ["unit"] = sc.Unit, ["effect"] = sc.Effect, ["estimate"] = sc.Estimate, ["fraction"] = sc.Fraction });
    }
    results["attribution"] = attributions;
    Console.Error.WriteLine($"[{clock.Elapsed.TotalSeconds:F0} s]");

    // 6. AtP* against attribution patching, with activation patching as the truth: flip the innermost open bracket.
    var pairs = inside.Take(32).ToArray();
    var clean = tokens.index_select(0, tensor(pairs)).clone();
    var corrupted = clean.clone();
    for (int q = 0; q < pairs.Length; q++)
    {
        int balance = 0;
        for (long j = seqLen - 1; j >= 0; j--)
        {
            long t = clean[q, j].item<long>();
            if (t is BracketLanguage.CloseRound or BracketLanguage.CloseSquare) balance++;
            else if (t is BracketLanguage.OpenRound or BracketLanguage.OpenSquare)
            {
                if (balance == 0) { corrupted[q, j] = t == BracketLanguage.OpenRound ? BracketLanguage.OpenSquare : BracketLanguage.OpenRound; break; }
                balance--;
            }
        }
    }
    var qkSites = Enumerable.Range(0, layers).SelectMany(l => new[] { $"blocks.{l}.attn.hook_q", $"blocks.{l}.attn.hook_k" }).ToList();
    AttributionContext Ctx(Mechanist.Options.MethodOptions o) => new()
    {
        Model = model, Input = clean, Baseline = corrupted, Sites = qkSites, Options = o,
        Metric = x => x[.., -1, BracketLanguage.CloseSquare] - x[.., -1, BracketLanguage.CloseRound], MetricDescription = behaviour.Description,
    };
    using var atpScope = NewDisposeScope();
    var truth = new Mechanist.Methods.Attribution.ActivationPatching().Attribute(Ctx(new Mechanist.Methods.Attribution.ActivationPatchingOptions
        { Granularity = Mechanist.Methods.Attribution.PatchGranularity.Head, UnitsPerPass = 32 })).Scores;
    var plain = new Mechanist.Methods.Attribution.AttributionPatching().Attribute(Ctx(new Mechanist.Methods.Attribution.PatchingOptions
        { Granularity = Mechanist.Methods.Attribution.PatchGranularity.Head })).Scores;
    var star = new Mechanist.Methods.Attribution.AtpStar().Attribute(Ctx(new Mechanist.Methods.Attribution.AtpStarOptions
        { Granularity = Mechanist.Methods.Attribution.PatchGranularity.Head, GradDrop = false })).Scores;
    var starGd = new Mechanist.Methods.Attribution.AtpStar().Attribute(Ctx(new Mechanist.Methods.Attribution.AtpStarOptions
        { Granularity = Mechanist.Methods.Attribution.PatchGranularity.Head, GradDrop = true })).Scores;
    double Scale() => truth.abs().mean().item<float>();
    double Error(Tensor e) => (e - truth).abs().mean().item<float>() / Scale();
    double MagnitudeError(Tensor e) => (e.abs() - truth.abs()).abs().mean().item<float>() / Scale();
    double Worst(Tensor e) => (e - truth).abs().max().item<float>();
    double Rank(Tensor e) => RankCorrelation.Spearman(e.abs().mean([0]).to(ScalarType.Float64).data<double>().ToArray(), truth.abs().mean([0]).to(ScalarType.Float64).data<double>().ToArray());
    Console.WriteLine();
    Console.WriteLine($"6. AtP* and attribution patching against activation patching: {pairs.Length} sequences with the innermost open bracket flipped, {truth.shape[1]} units (every query and key, per position and head, of the {layers} layers), metric {behaviour.Description}");
    Console.WriteLine($"  mean |ΔM| of activation patching per unit: {Scale().ToString("0.0000", inv)}; errors relative to it (mean |estimate − truth| / mean |truth|), the largest error, Spearman ρ of mean |score| per unit:");
    Console.WriteLine($"    attribution patching        {Error(plain).ToString("0.000", inv)}   max {Worst(plain).ToString("0.000", inv)}   ρ {Rank(plain).ToString("0.000", inv)}");
    Console.WriteLine($"    AtP* (QK fix)               {Error(star).ToString("0.000", inv)}   max {Worst(star).ToString("0.000", inv)}   ρ {Rank(star).ToString("0.000", inv)}");
    Console.WriteLine($"    AtP* (QK fix + GradDrop)    {MagnitudeError(starGd).ToString("0.000", inv)} (of |truth|)   ρ {Rank(starGd).ToString("0.000", inv)}");
    foreach (var site in qkSites)
    {
        int first = qkSites.IndexOf(site) * (int)(truth.shape[1] / qkSites.Count), count = (int)(truth.shape[1] / qkSites.Count);
        var t = truth.narrow(1, first, count);
        double E(Tensor e) => (e.narrow(1, first, count) - t).abs().mean().item<float>();
        Console.WriteLine($"    {site,-24} mean |truth| {t.abs().mean().item<float>().ToString("0.0000", inv)}   error: attribution patching {E(plain).ToString("0.0000", inv)}, AtP* {E(star).ToString("0.0000", inv)}");
    }
    results["atp_star"] = new JsonObject
    {
        ["units"] = truth.shape[1], ["pairs"] = pairs.Length, ["mean_abs_truth"] = Scale(),
        ["attribution_patching"] = new JsonObject { ["relative_error"] = Error(plain), ["max_error"] = Worst(plain), ["spearman"] = Rank(plain) },
        ["atp_star"] = new JsonObject { ["relative_error"] = Error(star), ["max_error"] = Worst(star), ["spearman"] = Rank(star) },
        ["atp_star_grad_drop"] = new JsonObject { ["relative_magnitude_error"] = MagnitudeError(starGd), ["spearman"] = Rank(starGd) },
    };
    Console.Error.WriteLine($"[{clock.Elapsed.TotalSeconds:F0} s]");

    if (outDir is not null)
    {
        Directory.CreateDirectory(outDir);
        AtomicFile.WriteText(Path.Combine(outDir, "results.json"), results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        AtomicFile.WriteText(Path.Combine(outDir, "probes.svg"), Svg.ProbeChart(probes, sites, concepts));
        AtomicFile.WriteText(Path.Combine(outDir, "tcav.svg"), Svg.TcavChart([tcavTrue, tcavShuffled]));
        AtomicFile.WriteText(Path.Combine(outDir, "steering.svg"), Svg.SteeringChart(vocab, before, shifts));
        Console.WriteLine($"\nfigures and results written to {Path.GetFullPath(outDir)}");
    }
    return 0;
}
catch (MechanistInputException e)
{
    return Fail(e.Message);
}

static JsonObject ToJson(TokenVocabulary vocab, double[] p)
{
    var o = new JsonObject();
    for (int t = 0; t < p.Length; t++) o[vocab.Text(t)] = p[t];
    return o;
}

// Mean next-token distribution at the given rows (sequence-major), without and with a vector added at the site.
static (double[] Before, double[] After) NextTokenShift(IHookedModel model, string site, Tensor tokens, long[] rows, Tensor add)
{
    using var scope = NewDisposeScope();
    using var noGrad = no_grad();
    var index = tensor(rows);
    Tensor Mean(Tensor logits) => logits.softmax(-1).reshape(-1, logits.shape[^1]).index_select(0, index).mean([0]).to(ScalarType.Float64);
    var before = Mean(model.Run(tokens));
    Tensor after;
    using (model.AddHook(site, a => a + add.to(a.dtype)))
        after = Mean(model.Run(tokens));
    return (before.data<double>().ToArray(), after.data<double>().ToArray());
}

static IHookedModel LoadModel(MechanistHost host, string folder, int seed)
{
    var config = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!;
    var modelType = config["model_type"]?.GetValue<string>() ?? throw new MechanistInputException($"{folder}/config.json: no model_type");
    var entry = host.Catalog.Resolve(modelType, MethodKind.ModelLoader);
    return MethodCatalog.Create<ModelLoader>(entry, host.Services).Load(new ModelLoadContext
    {
        Folder = Path.GetFullPath(folder), Config = config, Seed = seed,
        Options = MethodCatalog.BindOptions(entry, new Dictionary<string, string>()),
    });
}

static string FindRepo()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Framework.sln"))) return dir.FullName;
    return Directory.GetCurrentDirectory();
}

static int Fail(string message)
{
    Console.Error.WriteLine($"concepts: error: {message}");
    return 2;
}
