using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.Host.Activations;
using Mechanist.Host.Models;
using Mechanist.IO;
using Mechanist.Models;
using Mechanist.Models.Architectures;
using Mechanist.Models.Runtime;
using Mechanist.Models.Text;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands.Bench;

/// <summary>
/// <c>mechanist bench harvest</c>: harvesting throughput against a plain forward pass without hooks, measured in the
/// same run on the same tokens, and the peak resident memory of harvesting 1× and 10× the tokens into a store, each
/// in a fresh child process (peak RSS = VmHWM of /proc/self/status).
/// </summary>
public sealed class BenchHarvestCommand : ICommand
{
    public string Name => "bench harvest";
    public string Summary => "harvest throughput (tokens/s) vs a plain forward, and peak RSS for 1x and 10x tokens into a store";
    public string Usage => "[--model DIR | --layers L --d-model D --heads H --vocab V --positions P] [--tokens N] [--sites SITES] [--batch-size B] [--shard-mb MB] [--repeats R] [--seed S] [--format text|json] [--out FILE]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("model", "model folder to measure (default: a random GPT-2 of the shape below)", ValueName: "DIR"),
        new("layers", "random GPT-2: layers (default 4)", ValueName: "L"),
        new("d-model", "random GPT-2: residual width (default 256)", ValueName: "D"),
        new("heads", "random GPT-2: attention heads (default 4)", ValueName: "H"),
        new("vocab", "random GPT-2: vocabulary (default 50257, GPT-2's)", ValueName: "V"),
        new("positions", "random GPT-2: positions = sequence length used (default 128)", ValueName: "P"),
        new("tokens", "tokens for the throughput runs and the 1x memory run (default 4096; the 10x run uses ten times as many)", ValueName: "N"),
        new("sites", "sites to harvest (default: the middle block's hook_resid_post)", ValueName: "SITES"),
        new("batch-size", "sequences per forward pass (default 8)", ValueName: "B"),
        new("shard-mb", "store shard size in MB (default 4)", ValueName: "MB"),
        new("repeats", "throughput repetitions, the best of which is reported (default 3)", ValueName: "R"),
        new("phase", "internal: 'store' harvests --token-file into --out in this process and prints its peak RSS as JSON", ValueName: "PHASE"),
        new("token-file", "internal: the token file of a 'store' phase", ValueName: "FILE"),
        CommonOptions.Seed, CommonOptions.Format, CommonOptions.Out, CommonOptions.Device, CommonOptions.Plugins,
        CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        if (args.Get("phase") is { } phase)
        {
            if (phase != "store") throw new UsageException($"option '--phase' expects 'store', got '{phase}'.");
            return RunStorePhase(args, env);
        }
        var format = args.GetChoice("format", "text", "text", "json");
        int tokenCount = args.GetPositiveInt("tokens", 4096);
        int batchSize = args.GetPositiveInt("batch-size", 8);
        int shardMb = args.GetPositiveInt("shard-mb", 4);
        int repeats = args.GetPositiveInt("repeats", 3);
        int seed = CommonOptions.ParseSeed(args);
        var device = CommonOptions.ParseDevice(args);

        using var temp = new TempFolder();
        string modelDir;
        if (args.Get("model") is { } given) modelDir = given;
        else
        {
            var config = new Gpt2Config
            {
                NLayer = args.GetPositiveInt("layers", 4), NEmbd = args.GetPositiveInt("d-model", 256), NHead = args.GetPositiveInt("heads", 4),
                VocabSize = args.GetPositiveInt("vocab", 50257), NPositions = args.GetPositiveInt("positions", 128),
            };
            config.Validate("random GPT-2 (--layers, --d-model, --heads, --vocab, --positions)");
            modelDir = Path.Combine(temp.Path, "model");
            using var random = Gpt2Model.CreateRandom(config, seed);
            random.Save(modelDir);
        }

        using var host = CommonOptions.CreateHost(args, env);
        using var loaded = ModelFolder.Load(modelDir, host.Catalog, host.Services, device);
        var model = loaded as ILanguageModel
            ?? throw new MechanistInputException($"{modelDir}: model type '{loaded.ModelType}' does not read token ids.");
        var sites = Harvester.ResolveSites(model, (args.Get("sites") ?? DefaultSite(model)).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        int context = model.ContextLength;
        var tokens1 = RandomTokens(temp.File("tokens-1x.jsonl"), tokenCount, context, model.VocabSize, seed);
        var tokens10 = RandomTokens(temp.File("tokens-10x.jsonl"), 10L * tokenCount, context, model.VocabSize, seed + 1);

        // Throughput, in this process, on the same tokens: plain forward, hooked forward (cache + rows), harvest into a store.
        env.Error.WriteLine($"[bench harvest] {model.ModelType} on {device}, {tokens1.TotalTokens} tokens, sites {string.Join(",", sites)}, batch {batchSize}, threads {get_num_threads()}");
        Forward(model, tokens1, batchSize, 1); // warm-up
        double plain = 0, hooked = 0, harvest = 0;
        for (int r = 0; r < repeats; r++)
        {
            plain = Math.Max(plain, Forward(model, tokens1, batchSize, int.MaxValue));
            hooked = Math.Max(hooked, Hooked(model, tokens1, sites, batchSize));
            harvest = Math.Max(harvest, Harvest(model, tokens1, sites, batchSize, shardMb, temp.File($"store-{r}")));
            env.Error.WriteLine($"[bench harvest] repeat {r + 1}/{repeats}: plain {plain:0} tokens/s, hooked {hooked:0}, harvest to store {harvest:0} (best so far)");
        }

        // Peak RSS, each in a fresh process: 1x and 10x the tokens into a store.
        var metadataSites = string.Join(",", sites);
        var one = Child(env, modelDir, tokens1.Source, metadataSites, batchSize, shardMb, temp.File("rss-1x"), args);
        var ten = Child(env, modelDir, tokens10.Source, metadataSites, batchSize, shardMb, temp.File("rss-10x"), args);
        double ratio = one.Peak > 0 ? (double)ten.Peak / one.Peak : double.NaN;

        var report = new JsonObject
        {
            ["model"] = args.Get("model") is { } m ? Path.GetFullPath(m) : "random gpt2",
            ["model_type"] = model.ModelType,
            ["device"] = device.ToString(),
            ["threads"] = get_num_threads(),
            ["processors"] = Environment.ProcessorCount,
            ["sites"] = new JsonArray(sites.Select(s => (JsonNode?)s).ToArray()),
            ["context"] = context,
            ["batch_size"] = batchSize,
            ["tokens"] = tokens1.TotalTokens,
            ["repeats"] = repeats,
            ["plain_forward_tokens_per_s"] = Round(plain),
            ["hooked_forward_tokens_per_s"] = Round(hooked),
            ["harvest_to_store_tokens_per_s"] = Round(harvest),
            ["harvest_over_plain"] = Round(harvest / plain, 3),
            ["hooked_over_plain"] = Round(hooked / plain, 3),
            ["shard_mb"] = shardMb,
            ["peak_rss_1x_bytes"] = one.Peak,
            ["peak_rss_10x_bytes"] = ten.Peak,
            ["rss_before_harvest_1x_bytes"] = one.Before,
            ["rss_before_harvest_10x_bytes"] = ten.Before,
            ["tokens_1x"] = one.Tokens,
            ["tokens_10x"] = ten.Tokens,
            ["peak_rss_10x_over_1x"] = Round(ratio, 3),
            ["peak_rss_bound"] = 1.2,
            ["within_bound"] = ratio <= 1.2,
            ["definitions"] = new JsonObject
            {
                ["plain_forward_tokens_per_s"] = "tokens / seconds of model.Run over the token batches, no hooks, no_grad; best of the repeats",
                ["hooked_forward_tokens_per_s"] = "the same full forward pass with cache hooks at the sites and the per-token rows copied to the CPU, nothing written",
                ["harvest_to_store_tokens_per_s"] = "what 'mechanist harvest' does: cache hooks, the forward pass stopped after the last requested site, rows written to an activation store (shards + manifest)",
                ["peak_rss"] = "VmHWM of /proc/self/status at the end of a child process that loads the model and harvests the tokens into a store",
                ["peak_rss_10x_over_1x"] = "peak_rss_10x_bytes / peak_rss_1x_bytes",
            },
        };
        ReportOutput.Emit(args, env, report, w =>
        {
            w.WriteLine($"harvest benchmark: {model.ModelType}, {tokens1.TotalTokens} tokens x {repeats} repeats, context {context}, batch {batchSize}, sites {string.Join(",", sites)}, {device}, {get_num_threads()} threads");
            w.WriteLine($"  plain forward (no hooks)     {plain,10:0} tokens/s");
            w.WriteLine($"  full forward + cache hooks   {hooked,10:0} tokens/s  ({hooked / plain:0.000} x plain)");
            w.WriteLine($"  harvest into a store         {harvest,10:0} tokens/s  ({harvest / plain:0.000} x plain; stops after the last site)");
            w.WriteLine($"  peak RSS, {one.Tokens} tokens -> store   {one.Peak / 1048576.0,8:0.0} MiB (before harvesting {one.Before / 1048576.0:0.0} MiB)");
            w.WriteLine($"  peak RSS, {ten.Tokens} tokens -> store  {ten.Peak / 1048576.0,8:0.0} MiB (before harvesting {ten.Before / 1048576.0:0.0} MiB)");
            w.WriteLine($"  10x / 1x peak RSS            {ratio,10:0.000}  (bound 1.2: {(ratio <= 1.2 ? "within" : "EXCEEDED")})");
        });
        return ExitCodes.Ok;
    }

    static string DefaultSite(ILanguageModel model)
    {
        int blocks = model.HookSites.Count(s => s.StartsWith("blocks.", StringComparison.Ordinal) && s.EndsWith(".hook_resid_post", StringComparison.Ordinal));
        return blocks > 0 ? $"blocks.{blocks / 2}.hook_resid_post" : model.HookSites[^1];
    }

    static double Round(double value, int digits = 1) => double.IsFinite(value) ? Math.Round(value, digits) : 0;

    /// <summary>
    /// Random token ids, <paramref name="count"/> rounded up to whole sequences of <paramref name="context"/>, written as
    /// JSONL (the child processes read the file).
    /// </summary>
    static TokenSequences RandomTokens(string path, long count, int context, int vocab, int seed)
    {
        var random = new Random(seed);
        var sequences = new List<long[]>();
        using (var writer = new StreamWriter(path))
        {
            for (long done = 0; done < count; done += context)
            {
                var sequence = new long[context];
                for (int i = 0; i < sequence.Length; i++) sequence[i] = random.Next(vocab);
                writer.WriteLine("[" + string.Join(",", sequence) + "]");
                sequences.Add(sequence);
            }
        }
        return TokenSequences.FromSequences(path, sequences);
    }

    static IEnumerable<Tensor> Batches(TokenSequences tokens, int batchSize)
    {
        for (int i = 0; i < tokens.Sequences.Count; i += batchSize)
        {
            var batch = tokens.Sequences.Skip(i).Take(batchSize).ToList();
            yield return tensor(batch.SelectMany(s => s).ToArray(), [batch.Count, batch[0].Length]);
        }
    }

    /// <summary>Tokens per second of plain forward passes (at most <paramref name="maxBatches"/> batches).</summary>
    static double Forward(ILanguageModel model, TokenSequences tokens, int batchSize, int maxBatches)
    {
        var watch = Stopwatch.StartNew();
        long done = 0;
        foreach (var ids in Batches(tokens, batchSize).Take(maxBatches))
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var logits = model.Run(ids);
            _ = logits.shape; // evaluated eagerly on the CPU; on CUDA, synchronise below
            done += ids.numel();
        }
        Synchronize(model);
        return done / watch.Elapsed.TotalSeconds;
    }

    /// <summary>Tokens per second of full forward passes with cache hooks at the sites and the rows copied to the CPU.</summary>
    static double Hooked(ILanguageModel model, TokenSequences tokens, IReadOnlyList<string> sites, int batchSize)
    {
        var watch = Stopwatch.StartNew();
        long done = 0;
        foreach (var ids in Batches(tokens, batchSize))
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (_, cache) = model.RunWithCache(ids, sites);
            foreach (var site in sites)
            {
                using var activation = cache[site];
                Harvester.TokenRows(site, activation, ids.shape[0], ids.shape[1], model.ContextLength);
            }
            done += ids.numel();
        }
        Synchronize(model);
        return done / watch.Elapsed.TotalSeconds;
    }

    static double Harvest(ILanguageModel model, TokenSequences tokens, IReadOnlyList<string> sites, int batchSize, int shardMb, string folder)
    {
        var watch = Stopwatch.StartNew();
        Harvester.ToStore(folder, model, tokens, sites, batchSize, new JsonObject(), (long)shardMb << 20);
        double rate = tokens.TotalTokens / watch.Elapsed.TotalSeconds;
        Directory.Delete(folder, recursive: true);
        return rate;
    }

    static void Synchronize(ILanguageModel model)
    {
        if (cuda.is_available()) cuda.synchronize();
    }

    sealed record ChildResult(long Peak, long Before, long Tokens);

    /// <summary>Runs one store harvest in a fresh process of this program and reads the peak RSS it reports.</summary>
    ChildResult Child(CommandEnvironment env, string modelDir, string tokenFile, string sites, int batchSize, int shardMb, string outDir, ParsedArguments args)
    {
        var (fileName, prefix) = SelfCommand();
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in prefix) info.ArgumentList.Add(a);
        string[] rest =
        [
            "bench", "harvest", "--phase", "store", "--model", modelDir, "--token-file", tokenFile, "--sites", sites,
            "--batch-size", $"{batchSize}", "--shard-mb", $"{shardMb}", "--out", outDir, "--device", args.Get("device") ?? "auto",
        ];
        foreach (var a in rest) info.ArgumentList.Add(a);
        foreach (var p in args.GetAll("plugins")) { info.ArgumentList.Add("--plugins"); info.ArgumentList.Add(p); }
        env.Error.WriteLine($"[bench harvest] child: {Path.GetFileName(tokenFile)} -> store");
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"the measurement child exited with {process.ExitCode}: {stderr.Result.Trim()}");
        var line = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
        var result = JsonNode.Parse(line)!;
        return new ChildResult((long)result["peak_rss_bytes"]!, (long)result["rss_before_harvest_bytes"]!, (long)result["tokens"]!);
    }

    /// <summary>How to start this program again: its apphost, or the dotnet host with its assembly.</summary>
    static (string FileName, string[] Prefix) SelfCommand()
    {
        var processPath = Environment.ProcessPath ?? "dotnet";
        if (Path.GetFileNameWithoutExtension(processPath) == "mechanist") return (processPath, []);
        var host = Path.GetFileNameWithoutExtension(processPath) == "dotnet" ? processPath : "dotnet";
        return (host, [typeof(CliApp).Assembly.Location]);
    }

    /// <summary>The child: load, read the tokens, harvest into a store, print {peak_rss_bytes, …} as one JSON line.</summary>
    static int RunStorePhase(ParsedArguments args, CommandEnvironment env)
    {
        var device = CommonOptions.ParseDevice(args);
        using var host = CommonOptions.CreateHost(args, env);
        using var loaded = ModelFolder.Load(args.Require("model"), host.Catalog, host.Services, device);
        var model = (ILanguageModel)loaded;
        var sites = Harvester.ResolveSites(model, args.Require("sites").Split(','));
        var tokens = TokenSequences.ReadJsonl(args.Require("token-file"), model.VocabSize, model.ContextLength);
        long before = PeakMemory.CurrentRss();
        var watch = Stopwatch.StartNew();
        Harvester.ToStore(args.Require("out"), model, tokens, sites, args.GetPositiveInt("batch-size", 8), new JsonObject(),
            (long)args.GetPositiveInt("shard-mb", 4) << 20);
        env.Out.WriteLine(new JsonObject
        {
            ["tokens"] = tokens.TotalTokens,
            ["seconds"] = watch.Elapsed.TotalSeconds,
            ["rss_before_harvest_bytes"] = before,
            ["peak_rss_bytes"] = PeakMemory.PeakRss(),
        }.ToJsonString());
        return ExitCodes.Ok;
    }
}
