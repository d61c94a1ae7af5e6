using System.Diagnostics;
using Mechanist.Cli.CommandLine;
using Mechanist.Host.Activations;
using Mechanist.Host.Models;
using Mechanist.Models;
using Mechanist.Models.Text;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist harvest</c>: runs a model over a text or token file and writes the activations at hook sites, one
/// row per token: a <c>.safetensors</c> file (a tensor per site) or an activation store folder (streamed, bounded memory).
/// </summary>
public sealed class HarvestCommand : ICommand
{
    public string Name => "harvest";
    public string Summary => "run a model over text or token ids, write activations at hook sites (.safetensors or a store folder)";
    public string Usage => "--model DIR (--text FILE | --tokens FILE) --sites SITE[,SITE...] [--batch-size B] [--context C] [--shard-mb MB] [--device D] [--plugins DIR]... --out PATH";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("model", "model folder (config.json + model.safetensors)", ValueName: "DIR"),
        new("text", "UTF-8 text file, tokenised with GPT-2's BPE and cut into sequences of the context length", ValueName: "FILE"),
        CommonOptions.Tokens,
        new("sites", "comma-separated hook sites (TransformerLens names, e.g. blocks.0.hook_resid_post; unembed.hook_out = logits)", ValueName: "SITES"),
        new("batch-size", "sequences per forward pass (default 8)", ValueName: "B"),
        new("context", "tokens per sequence (default and maximum: the model's positions)", ValueName: "C"),
        new("shard-mb", "store output: megabytes per shard, which bounds memory (default 128)", ValueName: "MB"),
        CommonOptions.Device, CommonOptions.Plugins, CommonOptions.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var modelPath = args.Require("model");
        var outPath = args.Require("out");
        var sitesText = args.Require("sites");
        var text = args.Get("text");
        var tokensArgument = TokenArgument.Get(args);
        if ((text is null) == (tokensArgument is null))
            throw new UsageException("'harvest' needs exactly one of --text FILE or --tokens FILE.");
        int batchSize = args.GetInt("batch-size", 8);
        if (batchSize < 1) throw new UsageException($"option '--batch-size' must be at least 1, got {batchSize}.");
        bool toFile = outPath.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);
        if (toFile && args.Has("shard-mb"))
            throw new UsageException("option '--shard-mb' applies to a store folder; --out names a .safetensors file.");
        int shardMb = args.GetInt("shard-mb", 128);
        if (shardMb is < 1 or > 1024) throw new UsageException($"option '--shard-mb' must be between 1 and 1024, got {shardMb}.");
        CheckOutput(outPath, toFile);
        var sites = sitesText.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (sites.Length == 0) throw new UsageException("option '--sites' names no hook site.");
        var device = CommonOptions.ParseDevice(args);

        using var host = CommonOptions.CreateHost(args, env);
        using var loaded = ModelFolder.Load(modelPath, host.Catalog, host.Services, device);
        if (loaded is not ILanguageModel model)
            throw new MechanistInputException($"{modelPath}: model type '{loaded.ModelType}' does not read token ids, so it cannot be harvested over text or token files.");
        var resolved = Harvester.ResolveSites(model, sites);
        int context = args.GetInt("context", model.ContextLength);
        if (context < 1 || context > model.ContextLength)
            throw new UsageException($"option '--context' must be between 1 and the model's {model.ContextLength} positions, got {context}.");
        var tokens = text is not null
            ? TokenSequences.ReadText(text, model.VocabSize, context)
            : tokensArgument!.Sequences(model.VocabSize, context);

        var metadata = Harvester.Metadata(modelPath, model.ModelType, tokens, resolved);
        var progress = new ThrottledProgress(env.Error, "harvest", "tokens");
        var watch = Stopwatch.StartNew();
        if (toFile)
            Harvester.ToFile(outPath, model, tokens, resolved, batchSize, metadata, progress);
        else
            Harvester.ToStore(outPath, model, tokens, resolved, batchSize, metadata, (long)shardMb << 20, progress);
        progress.Finish();
        var seconds = watch.Elapsed.TotalSeconds;
        env.Out.WriteLine($"harvested {tokens.TotalTokens} tokens ({tokens.Sequences.Count} sequences) at {resolved.Count} site(s) " +
                          $"in {seconds:0.##} s ({tokens.TotalTokens / Math.Max(seconds, 1e-9):0} tokens/s) -> {Path.GetFullPath(outPath)}{(toFile ? "" : " (store)")}");
        return ExitCodes.Ok;
    }

    /// <summary>Refuses outputs that would overwrite something that is not ours to replace.</summary>
    static void CheckOutput(string outPath, bool toFile)
    {
        if (toFile)
        {
            if (Directory.Exists(outPath)) throw new UsageException($"--out {outPath}: is a folder; a .safetensors output must be a file path.");
            return;
        }
        if (File.Exists(outPath))
            throw new UsageException($"--out {outPath}: is a file; an activation store is a folder (give a path ending in .safetensors for a single file).");
        if (Directory.Exists(outPath) && !ActivationStore.IsStore(outPath) && Directory.EnumerateFileSystemEntries(outPath).Any())
            throw new UsageException($"--out {outPath}: is a folder that is not an activation store and not empty; refusing to replace it.");
    }
}
