using System.Diagnostics;
using System.Text.Json.Nodes;
using Mechanist.IO;
using Mechanist.Models;
using Mechanist.Models.Runtime;
using Mechanist.Models.Text;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Host.Activations;

/// <summary>
/// Runs a language model over token sequences and collects the activations at hook sites as rows, one per token,
/// in sequence-then-position order. Per-position sites ([batch, pos, …]: residual stream, q/k/v/z, MLP, logits)
/// give [tokens, product of the rest]; attention sites [batch, head, q, k] (<c>hook_pattern</c>,
/// <c>hook_attn_scores</c>) give one row per query token, [tokens, head × context], keys past the sequence filled
/// with the masked value (0 for the pattern, −∞ for the scores).
/// </summary>
public static class Harvester
{
    /// <summary>Default bytes per store shard.</summary>
    public const long DefaultShardBytes = 128L << 20;

    /// <summary>Checks that every site exists (an unknown one is an input error suggesting the closest) and drops duplicates.</summary>
    public static IReadOnlyList<string> ResolveSites(IHookedModel model, IEnumerable<string> sites)
    {
        var result = new List<string>();
        foreach (var site in sites)
        {
            if (result.Contains(site)) continue;
            if (!model.HookSites.Contains(site))
            {
                var closest = NameSuggester.Closest(site, model.HookSites);
                throw new MechanistInputException(
                    $"model '{model.ModelType}' has no hook site '{site}'.{(closest is null ? "" : $" Did you mean '{closest}'?")} " +
                    $"Sites: {string.Join(", ", model.HookSites.Take(12))}{(model.HookSites.Count > 12 ? ", …" : "")}.");
            }
            result.Add(site);
        }
        if (result.Count == 0) throw new MechanistInputException("no hook sites to harvest.");
        return result;
    }

    /// <summary>
    /// Runs <paramref name="model"/> over <paramref name="tokens"/> in batches of up to <paramref name="batchSize"/>
    /// consecutive sequences of equal length, and hands each batch's rows (site → float32 CPU [rows, d]) to
    /// <paramref name="sink"/>, which must not keep them. Hooks are removed after every batch, also on error.
    /// </summary>
    public static void Run(ILanguageModel model, TokenSequences tokens, IReadOnlyList<string> sites, int batchSize,
        Action<IReadOnlyDictionary<string, Tensor>> sink, IProgress<ProgressReport>? progress = null,
        CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        int context = tokens.Sequences.Max(s => s.Length);
        // The forward pass stops right after the last requested site (in the model's execution order): harvesting
        // an early layer does not pay for the later layers and the unembedding.
        var last = sites.OrderBy(s => IndexOf(model.HookSites, s)).Last();
        var watch = Stopwatch.StartNew();
        long done = 0;
        foreach (var batch in Batches(tokens.Sequences, batchSize))
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            int length = batch[0].Length;
            var ids = tensor(batch.SelectMany(s => s).ToArray(), [batch.Count, length]);
            var cache = Capture(model, ids, sites, last);
            var rows = new Dictionary<string, Tensor>();
            foreach (var site in sites)
            {
                using var activation = cache[site];
                rows[site] = TokenRows(site, activation, batch.Count, length, context);
            }
            sink(rows);
            done += (long)batch.Count * length;
            progress?.Report(new ProgressReport(done, tokens.TotalTokens, new Dictionary<string, double>
            {
                ["tokens_per_s"] = done / Math.Max(watch.Elapsed.TotalSeconds, 1e-9),
            }));
        }
    }

    /// <summary>
    /// Runs the model with cache hooks at <paramref name="sites"/> and stops the forward pass once
    /// <paramref name="last"/> has been cached. If a model runs its sites in another order than it lists them (so
    /// that a site is still missing), the batch is run again in full.
    /// </summary>
    static Dictionary<string, Tensor> Capture(IHookedModel model, Tensor ids, IReadOnlyList<string> sites, string last)
    {
        var cache = new Dictionary<string, Tensor>();
        var hooks = sites.Select(site => (site, Hooks.Cache(cache, site)))
            .Append((last, _ => throw new StopForward())).ToArray();
        try
        {
            model.RunWithHooks(ids, hooks).Dispose();
        }
        catch (StopForward)
        {
        }
        catch
        {
            foreach (var t in cache.Values) t.Dispose();
            throw;
        }
        if (sites.All(cache.ContainsKey)) return cache;
        foreach (var t in cache.Values) t.Dispose();
        var (output, full) = model.RunWithCache(ids, sites);
        output.Dispose();
        return full;
    }

    static int IndexOf(IReadOnlyList<string> list, string item)
    {
        for (int i = 0; i < list.Count; i++) if (list[i] == item) return i;
        return -1;
    }

    /// <summary>Thrown by the hook after the last requested site to end the forward pass early.</summary>
    sealed class StopForward() : Exception("forward pass stopped after the last harvested site");

    /// <summary>One row per token of a site's activation (see the class summary), as a float32 CPU tensor.</summary>
    public static Tensor TokenRows(string site, Tensor activation, long batch, long length, int context)
    {
        bool attention = site.EndsWith("hook_pattern", StringComparison.Ordinal) || site.EndsWith("hook_attn_scores", StringComparison.Ordinal);
        if (attention && activation.ndim == 4 && activation.shape[0] == batch && activation.shape[2] == length && activation.shape[3] == length)
        {
            var x = activation;
            if (length < context)
            {
                double fill = site.EndsWith("hook_pattern", StringComparison.Ordinal) ? 0.0 : double.NegativeInfinity;
                x = nn.functional.pad(x, [0, context - length], value: fill);
            }
            return x.permute(0, 2, 1, 3).reshape(batch * length, -1).to(ScalarType.Float32, CPU).contiguous();
        }
        if (activation.ndim < 2 || activation.shape[0] != batch || activation.shape[1] != length)
            throw new MechanistInputException(
                $"hook site '{site}' gives activations of shape [{string.Join(", ", activation.shape)}], not [batch {batch}, pos {length}, …] (or [batch, head, q, k] for attention patterns); it cannot be harvested per token.");
        return activation.reshape(batch * length, -1).to(ScalarType.Float32, CPU).contiguous();
    }

    static IEnumerable<List<long[]>> Batches(IReadOnlyList<long[]> sequences, int batchSize)
    {
        var batch = new List<long[]>();
        foreach (var sequence in sequences)
        {
            if (batch.Count == batchSize || (batch.Count > 0 && batch[0].Length != sequence.Length))
            {
                yield return batch;
                batch = [];
            }
            batch.Add(sequence);
        }
        if (batch.Count > 0) yield return batch;
    }

    /// <summary>Provenance written with harvested activations; paths as they were given (a file committed with its data stays portable).</summary>
    public static JsonObject Metadata(string model, string modelType, TokenSequences tokens, IReadOnlyList<string> sites) => new()
    {
        ["model"] = model,
        ["model_type"] = modelType,
        ["tokens_file"] = tokens.Source,
        ["sequences"] = tokens.Sequences.Count,
        ["tokens"] = tokens.TotalTokens,
        ["context"] = tokens.Sequences.Max(s => s.Length),
        ["sites"] = new JsonArray(sites.Select(s => (JsonNode?)s).ToArray()),
        ["created_by"] = "mechanist harvest",
    };

    /// <summary>Harvests into one <c>.safetensors</c> file: a tensor per site, named by the site, [tokens, d]. Held in memory, written atomically.</summary>
    public static void ToFile(string path, ILanguageModel model, TokenSequences tokens, IReadOnlyList<string> sites, int batchSize,
        JsonObject metadata, IProgress<ProgressReport>? progress = null, CancellationToken cancellation = default)
    {
        var outputs = new Dictionary<string, Tensor>();
        long row = 0;
        try
        {
            Run(model, tokens, sites, batchSize, rows =>
            {
                long n = rows.Values.First().shape[0];
                foreach (var (site, t) in rows)
                {
                    if (!outputs.TryGetValue(site, out var all))
                        outputs[site] = all = empty(tokens.TotalTokens, t.shape[1], ScalarType.Float32).DetachFromDisposeScope();
                    using var slice = all.narrow(0, row, n);
                    slice.copy_(t);
                }
                row += n;
            }, progress, cancellation);
            var stringMetadata = metadata.ToDictionary(kv => kv.Key,
                kv => kv.Value is JsonValue v && v.TryGetValue<string>(out var s) ? s : kv.Value?.ToJsonString() ?? "null");
            stringMetadata["row_order"] = "sequence-then-position";
            Safetensors.Write(path, outputs, stringMetadata);
        }
        finally
        {
            foreach (var t in outputs.Values) t.Dispose();
        }
    }

    /// <summary>Harvests into an activation store folder (bounded memory), written atomically.</summary>
    public static void ToStore(string folder, ILanguageModel model, TokenSequences tokens, IReadOnlyList<string> sites, int batchSize,
        JsonObject metadata, long shardBytes = DefaultShardBytes, IProgress<ProgressReport>? progress = null,
        CancellationToken cancellation = default)
    {
        ActivationStore.Write(folder, shardBytes, metadata, writer =>
            Run(model, tokens, sites, batchSize, writer.Append, progress, cancellation));
    }

    /// <summary>
    /// In memory, for a few sequences (interpreters, dashboards): runs the model over the token sequences and keeps the site's activations as rows: [n_seq · seq_len, d] for a
    /// [batch, pos, d] site (<paramref name="perToken"/> true), [n_seq, d] for a [batch, d] site.
    /// </summary>
    public static ActivationMatrix Matrix(IHookedModel model, Tensor tokens, string site, int batchSize, int dIn, out bool perToken)
    {
        var rows = new List<Tensor>();
        perToken = true;
        using var noGrad = no_grad();
        for (long start = 0; start < tokens.shape[0]; start += batchSize)
        {
            var batch = tokens.narrow(0, start, Math.Min(batchSize, tokens.shape[0] - start));
            Tensor? activation = null;
            using (var handle = model.AddHook(site, a => { activation = a.detach().clone(); return null; }))
                model.Run(batch);
            if (activation is null) throw new InvalidOperationException($"hook site {site} did not fire.");
            if (activation.shape[^1] != dIn)
                throw new MechanistInputException(
                    $"the decomposition's d_in is {dIn} but the activation at '{site}' has width {activation.shape[^1]} (shape [{string.Join(", ", activation.shape)}]).");
            if (activation.ndim == 3 && activation.shape[1] == batch.shape[1]) rows.Add(activation.reshape(-1, dIn).cpu());
            else
            {
                perToken = false;
                rows.Add(activation.reshape(batch.shape[0], -1).cpu());
            }
        }
        return new ActivationMatrix($"{site} harvested from {tokens.shape[0]} sequences", cat(rows, 0));
    }
}
