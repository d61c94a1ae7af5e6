// Concept-based interpretability on a transformer whose concepts are known, using only Mechanist's public API.
// The model (samples/models/brackets/, trained with `mechanist train brackets`) reads the bracket language: nested
// round and square brackets with fillers. The state behind every token is recorded (its depth, the type of the
// innermost open bracket, the token's kind), so each method is scored against the truth:
//   1. linear probes with control tasks find each concept, and at the layers where the model can have computed it;
//   2. a sparse autoencoder's latents align with the concepts (best latent's correlation, sparse probing);
//   3. TCAV is significant for the true concept and not for the same labels shuffled;
//   4. steering along a concept latent changes the next-token distribution the concept predicts;
//   5. the attention heads that carry a concept, by ablation and by attribution patching of the probe.
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
    // 2. A sparse autoencoder at the feature site; latents against the concepts.
    var rows = SiteActivations.Harvest(model, tokens, [featureSite])[featureSite];
    var saeEntry = host.Catalog.Resolve("sae.topk", MethodKind.Decomposer);
    var saeOptions = MethodCatalog.BindOptions(saeEntry, new Dictionary<string, string>
    {
        ["k"] = "4", ["d_sae"] = "128", ["steps"] = saeSteps.ToString(inv), ["batch_size"] = "512",
    });
    using var acts = new ActivationMatrix(featureSite, rows);
    using var sae = MethodCatalog.Create<Decomposer>(saeEntry, host.Services).Fit(new DecomposeContext
    {
        Activations = acts, Options = saeOptions, Seed = seed, HookName = featureSite,
    });
    var quality = DecompositionMetrics.Compute(sae, acts);
    var latents = sae.Encode(rows);
    Console.WriteLine();
    Console.WriteLine($"2. sae.topk (k = 4, 128 latents, {saeSteps} steps) at {featureSite}: FVU {quality.Fvu.ToString("0.000", inv)}, L0 {quality.L0.ToString("0.0", inv)}");
    Console.WriteLine($"  {"concept = class",-18}{"best latent",-13}{"r",-8}{"k=1",-7}{"k=2",-7}{"k=5",-7}{"raw",-7}");
    var split = RowSplit.BySequence(tokens.shape[0], tokens.shape[1], 0.2, seed);
    var sparse = new List<SparseProbingResult>();
    foreach (var name in new[] { "top", "depth" })
    {
        var concept = labels[name];
        for (int c = 0; c < concept.Classes.Count; c++)
        {
            var r = SparseProbing.Run(latents, rows, concept, c, split, [1, 2, 5], 1e-3, 8000, seed);
            sparse.Add(r);
            Console.WriteLine($"  {name + " = " + r.Class,-18}{r.BestLatent,-13}{r.BestCorrelation.ToString("0.000", inv),-8}" +
                string.Concat(r.Sparse.Select(s => $"{s.Accuracy.ToString("0.000", inv),-7}")) + r.RawAccuracy.ToString("0.000", inv));
        }
    }
    results["sae"] = new JsonObject { ["site"] = featureSite, ["fvu"] = quality.Fvu, ["l0"] = quality.L0, ["d_sae"] = sae.DSae };
    results["sparse_probing"] = new JsonArray(sparse.Select(r => (JsonNode)new JsonObject
    {
        ["concept"] = r.Concept, ["class"] = r.Class, ["best_latent"] = r.BestLatent, ["best_correlation"] = r.BestCorrelation,
        ["raw_accuracy"] = r.RawAccuracy,
        ["sparse"] = new JsonArray(r.Sparse.Select(s => (JsonNode)new JsonObject { ["k"] = s.K, ["accuracy"] = s.Accuracy }).ToArray()),
    }).ToArray());

    Console.Error.WriteLine($"[{clock.Elapsed.TotalSeconds:F0} s]");
    // 3. TCAV: does "the innermost open bracket is square" matter for preferring ']' over ')'?
    var top = labels["top"];
    int square = top.ClassIndex("square");
    var last = top.Labels.Select((l, r) => (l, r)).Where(x => x.r % tokens.shape[1] == tokens.shape[1] - 1).ToList();
    var inside = last.Where(x => x.l != BracketLanguage.TopNone).Select(x => (long)(x.r / tokens.shape[1])).ToArray();
    var behaviour = new Behaviour(tokens.index_select(0, tensor(inside)),
        o => o[.., -1, BracketLanguage.CloseSquare] - o[.., -1, BracketLanguage.CloseRound],
        "logit(']') − logit(')') at the last position");
    var tcavSettings = new TcavSettings { RandomCavs = 20, Examples = 200 };
    var tcavTrue = Tcav.Run(model, featureSite, rows, top, square, behaviour, tcavSettings, seed);
    var tcavShuffled = Tcav.Run(model, featureSite, rows, top.Shuffled(seed + 5), square, behaviour, tcavSettings, seed);
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

    Console.Error.WriteLine($"[{clock.Elapsed.TotalSeconds:F0} s]");
    // 4. Steering along the latent that best tracks "innermost bracket is square".
    var squareLatent = sparse.Single(r => r.Concept == "top" && r.Class == "square").BestLatent;
    var steering = Steering.Run(model, sae, featureSite, tokens, new SteeringOptions { Features = squareLatent.ToString(inv), Scale = 2 }, seed).Single();
    var roundRows = top.Labels.Select((l, r) => (l, r)).Where(x => x.l == BracketLanguage.TopRound).Select(x => (long)x.r).ToArray();
    var (before, after) = NextTokenShift(model, featureSite, tokens, roundRows, sae.DecoderDirections[squareLatent] * steering.Amplitude);
    Console.WriteLine();
    Console.WriteLine($"4. steering along latent {squareLatent} (best for top = square) at {featureSite}, amplitude {steering.Amplitude.ToString("0.00", inv)} (2 x its largest activation):");
    Console.WriteLine($"  claimed output (local effect): {string.Join(" ", steering.Claimed.Select(t => vocab.Text(t)))}; log-probability of the claim {steering.Effect.ToString("+0.00;-0.00", inv)} nats, random directions of equal norm {steering.RandomMean.ToString("+0.00;-0.00", inv)} (max {steering.RandomEffects.Max().ToString("+0.00;-0.00", inv)})");
    Console.WriteLine($"  at the {roundRows.Length} tokens inside a round bracket, mean next-token probability before -> after steering:");
    for (int t = 0; t < vocab.Count; t++)
        Console.WriteLine($"    {vocab.Text(t),-6} {before[t].ToString("0.000", inv)} -> {after[t].ToString("0.000", inv)}");
    results["steering"] = new JsonObject
    {
        ["latent"] = squareLatent, ["amplitude"] = steering.Amplitude, ["claimed"] = new JsonArray(steering.Claimed.Select(t => (JsonNode)vocab.Text(t)).ToArray()),
        ["effect"] = steering.Effect, ["random_mean"] = steering.RandomMean, ["random_max"] = steering.RandomEffects.Max(),
        ["inside_round_before"] = ToJson(vocab, before), ["inside_round_after"] = ToJson(vocab, after),
    };

    Console.Error.WriteLine($"[{clock.Elapsed.TotalSeconds:F0} s]");
    // 5. Which heads carry the concept: ablation and attribution patching on the probe's log-odds.
    var headSite = $"blocks.{layers - 2}.attn.hook_z";
    var attribution = ConceptAttribution.Run(model, tokens.narrow(0, 0, Math.Min(128, tokens.shape[0])),
        new Concept(top.Name, top.Labels.Take((int)(Math.Min(128, tokens.shape[0]) * tokens.shape[1])).ToArray(), top.Classes), square,
        headSite, featureSite, null, new ConceptAttribution.Settings(), seed);
    Console.WriteLine();
    Console.WriteLine($"5. heads of {headSite} carrying top = square (probe at {featureSite}: accuracy {attribution.ProbeAccuracy.ToString("0.000", inv)}, log-odds {attribution.CleanLogOdds.ToString("0.00", inv)} on the class vs {attribution.OtherLogOdds.ToString("0.00", inv)}):");
    foreach (var s in attribution.Scores.OrderByDescending(s => s.Effect))
        Console.WriteLine($"  {s.Unit}: mean-ablation lowers the log-odds by {s.Effect.ToString("0.00", inv)} ({s.Fraction.ToString("0%", inv)} of the margin); attribution patching estimates {s.Estimate.ToString("0.00", inv)}");
    results["attribution"] = new JsonArray(attribution.Scores.Select(s => (JsonNode)new JsonObject
    {
        ["unit"] = s.Unit, ["effect"] = s.Effect, ["estimate"] = s.Estimate, ["fraction"] = s.Fraction,
    }).ToArray());

    Console.Error.WriteLine($"[{clock.Elapsed.TotalSeconds:F0} s]");
    if (outDir is not null)
    {
        Directory.CreateDirectory(outDir);
        AtomicFile.WriteText(Path.Combine(outDir, "results.json"), results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        AtomicFile.WriteText(Path.Combine(outDir, "probes.svg"), Svg.ProbeChart(probes, sites, concepts));
        AtomicFile.WriteText(Path.Combine(outDir, "tcav.svg"), Svg.TcavChart([tcavTrue, tcavShuffled]));
        AtomicFile.WriteText(Path.Combine(outDir, "steering.svg"), Svg.SteeringChart(vocab, before, after, squareLatent));
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
