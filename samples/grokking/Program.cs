// Reproduces the key finding of Nanda et al. 2023 (Progress measures for grokking via mechanistic
// interpretability) on a modular-addition model, using only Mechanist's public API:
//   1. the embedding and the MLP are sparse in the Fourier basis of Z_p: a handful of key frequencies;
//   2. removing those frequencies from the MLP's activations destroys accuracy, removing all others does not;
//   3. a sparse autoencoder's features on the MLP activations, measured against the key frequencies.
//
//   dotnet run --project samples/grokking -- [--model DIR] [--train] [--decomposer ID] [--set key=value]... [--out DIR]

using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist;
using Mechanist.Decomposers;
using Mechanist.Host;
using Mechanist.Host.Discovery;
using Mechanist.IO;
using Mechanist.Methods.Analysis;
using Mechanist.Models;
using static TorchSharp.torch;

var repo = FindRepo();
var modelDir = Path.Combine(repo, "samples", "models", "modular-addition");
string? decomposerId = null;
string? outDir = null;
bool train = false;
int seed = 0;
var settings = new Dictionary<string, string>();
for (int i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--model": modelDir = Value(); break;
        case "--train": train = true; break;
        case "--decomposer": decomposerId = Value(); break;
        case "--out": outDir = Value(); break;
        case "--seed": seed = int.Parse(Value(), CultureInfo.InvariantCulture); break;
        case "--set":
            var kv = Value().Split('=', 2);
            if (kv.Length != 2) return Fail($"--set expects key=value, got '{kv[0]}'");
            settings[kv[0]] = kv[1];
            break;
        case "--help":
            Console.WriteLine("usage: dotnet run --project samples/grokking -- [--model DIR] [--train] [--decomposer ID] [--set key=value]... [--seed S] [--out DIR]");
            return 0;
        default: return Fail($"unknown option '{args[i]}'");
    }
}

try
{
    if (train)
    {
        // Training is the `train` command's job; the sample only asks for it.
        modelDir = outDir is null ? Path.Combine(Path.GetTempPath(), "mechanist-grokking-model") : Path.Combine(outDir, "model");
        Console.WriteLine($"training a modular-addition model into {modelDir} (mechanist train modular-addition) …");
        var run = Process.Start(new ProcessStartInfo("dotnet", ["run", "--project", Path.Combine(repo, "src", "Mechanist.Cli"), "--", "train", "modular-addition", "--seed", $"{seed}", "--out", modelDir]))!;
        run.WaitForExit();
        if (run.ExitCode != 0) return Fail($"'mechanist train modular-addition' exited with {run.ExitCode}");
    }
    if (!File.Exists(Path.Combine(modelDir, "config.json")))
        return Fail($"{modelDir}: no model folder (config.json + model.safetensors). Run with --train, or pass --model DIR.");

    using var host = MechanistHost.Create([]);
    using var model = LoadModel(host, modelDir, seed);
    var weights = Safetensors.ReadHeader(Path.Combine(modelDir, "model.safetensors"));
    using var embedding = Safetensors.ReadTensor(weights, "embed.W_E").to(ScalarType.Float32);
    int p = (int)Safetensors.ReadTensor(weights, "unembed.W_U").shape[^1];
    Console.WriteLine($"model: {model.ModelType} from {Path.GetFullPath(modelDir)}, p = {p}, W_E [{string.Join(", ", embedding.shape)}]");

    decomposerId ??= new[] { "sae.topk", "sae.batchtopk", "sae.relu", "sae.jumprelu", "sae.gated" }
        .FirstOrDefault(id => host.Catalog.Entries.Any(e => e.Id == id && e.Kind == MethodKind.Decomposer));
    if (decomposerId is null)
    {
        decomposerId = "pca";
        Console.WriteLine("note: no SAE decomposer is registered in this build; the feature step uses pca (pass --decomposer ID to choose)");
    }
    var entry = host.Catalog.Resolve(decomposerId, MethodKind.Decomposer);
    var options = MethodCatalog.BindOptions(entry, settings);

    var result = ModularAdditionAnalysis.Run(model, embedding, p, new ModularAdditionAnalysis.Settings { Seed = seed },
        acts => (entry.Id, MethodCatalog.Create<Decomposer>(entry, host.Services).Fit(new DecomposeContext
        {
            Activations = acts, Options = options, Seed = seed, HookName = "blocks.0.mlp.hook_post",
        })));
    Console.WriteLine();
    Console.Write(result.Describe());

    if (outDir is not null) WriteFigures(outDir, result);
    return 0;
}
catch (MechanistInputException e)
{
    return Fail(e.Message);
}

static IHookedModel LoadModel(MechanistHost host, string folder, int seed)
{
    var config = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!;
    var modelType = config["model_type"]?.GetValue<string>() ?? throw new MechanistInputException($"{folder}/config.json: no model_type");
    var entry = host.Catalog.Resolve(modelType, MethodKind.ModelLoader);
    var loader = MethodCatalog.Create<ModelLoader>(entry, host.Services);
    return loader.Load(new ModelLoadContext
    {
        Folder = Path.GetFullPath(folder), Config = config, Seed = seed,
        Options = MethodCatalog.BindOptions(entry, new Dictionary<string, string>()),
    });
}

static void WriteFigures(string dir, ModularAdditionAnalysis.Result r)
{
    Directory.CreateDirectory(dir);
    var inv = CultureInfo.InvariantCulture;
    var csv = new StringBuilder("frequency,embedding_power_share,mlp_neurons,key\n");
    double total = r.EmbeddingPower.Skip(1).Sum();
    for (int k = 1; k < r.EmbeddingPower.Length; k++)
        csv.Append(inv, $"{k},{r.EmbeddingPower[k] / total:0.######},{r.NeuronsPerFrequency.GetValueOrDefault(k)},{(r.KeyFrequencies.Contains(k) ? 1 : 0)}\n");
    AtomicFile.WriteText(Path.Combine(dir, "frequencies.csv"), csv.ToString());
    AtomicFile.WriteText(Path.Combine(dir, "embedding_fourier_power.svg"),
        BarChart("Embedding: share of Fourier power per frequency", r.EmbeddingPower.Skip(1).Select(v => v / total).ToArray(), r.KeyFrequencies));
    AtomicFile.WriteText(Path.Combine(dir, "mlp_neurons_per_frequency.svg"),
        BarChart("MLP neurons by dominant frequency", Enumerable.Range(1, r.EmbeddingPower.Length - 1).Select(k => (double)r.NeuronsPerFrequency.GetValueOrDefault(k)).ToArray(), r.KeyFrequencies));
    var summary = new JsonObject
    {
        ["p"] = r.P,
        ["key_frequencies"] = new JsonArray(r.KeyFrequencies.Select(k => (JsonNode)k).ToArray()),
        ["embedding_key_share"] = r.EmbeddingKeyShare,
        ["mlp_key_share"] = r.MlpKeyShare,
        ["neurons_on_key_fraction"] = r.NeuronsOnKeyFraction,
        ["accuracy"] = new JsonObject
        {
            ["clean"] = r.Clean.Accuracy, ["key_ablated"] = r.KeyAblated.Accuracy, ["others_ablated"] = r.OthersAblated.Accuracy,
            ["random_non_key_ablated"] = new JsonArray(r.RandomAblated.Select(x => (JsonNode)x.Score.Accuracy).ToArray()),
        },
        ["loss"] = new JsonObject { ["clean"] = r.Clean.Loss, ["key_ablated"] = r.KeyAblated.Loss, ["others_ablated"] = r.OthersAblated.Loss },
        ["features"] = r.Features is { } f ? new JsonObject
        {
            ["method"] = f.Method, ["total"] = f.Total, ["alive"] = f.Alive, ["fvu"] = f.Fvu, ["l0"] = f.L0, ["harmonics"] = f.Harmonics,
            ["tied_to_key"] = f.TiedToKey, ["tied_to_other"] = f.TiedToOther,
            ["tied_to_key_by_harmonics"] = f.TiedToKeyByHarmonics, ["tied_to_other_by_harmonics"] = f.TiedToOtherByHarmonics,
            ["other_harmonic_frequencies"] = new JsonObject(f.OtherHarmonicFrequencies.Select(x => KeyValuePair.Create(x.Frequency.ToString(CultureInfo.InvariantCulture), (JsonNode?)x.Count))),
            ["tied_to_key_by_one_frequency"] = f.TiedToKeyByFundamental, ["on_key_frequencies_jointly"] = f.OnKeyFrequencies,
            ["mean_key_frequencies_used"] = f.MeanKeyFrequenciesUsed,
        } : null,
    };
    AtomicFile.WriteText(Path.Combine(dir, "results.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    Console.WriteLine($"figures and results written to {Path.GetFullPath(dir)}");
}

static string BarChart(string title, double[] values, int[] highlight)
{
    const int width = 760, height = 260, left = 40, bottom = 30, top = 30;
    double max = Math.Max(values.DefaultIfEmpty(0).Max(), 1e-12);
    double bar = (width - left - 10.0) / Math.Max(1, values.Length);
    var inv = CultureInfo.InvariantCulture;
    var svg = new StringBuilder();
    svg.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"10\">");
    svg.Append(inv, $"<text x=\"{left}\" y=\"18\" font-size=\"13\">{title}</text>");
    for (int i = 0; i < values.Length; i++)
    {
        double h = (height - bottom - top) * values[i] / max;
        double x = left + i * bar;
        bool key = highlight.Contains(i + 1);
        svg.Append(inv, $"<rect x=\"{x:0.#}\" y=\"{height - bottom - h:0.#}\" width=\"{Math.Max(1, bar - 1):0.#}\" height=\"{h:0.#}\" fill=\"{(key ? "#c0392b" : "#7f8c8d")}\"/>");
        if (key) svg.Append(inv, $"<text x=\"{x:0.#}\" y=\"{height - bottom - h - 3:0.#}\">{i + 1}</text>");
    }
    svg.Append(inv, $"<text x=\"{left}\" y=\"{height - 8}\">frequency 1 … {values.Length} (key frequencies in red)</text></svg>");
    return svg.ToString();
}

static string FindRepo()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Framework.sln"))) return dir.FullName;
    return Directory.GetCurrentDirectory();
}

static int Fail(string message)
{
    Console.Error.WriteLine($"grokking: error: {message}");
    return 2;
}
