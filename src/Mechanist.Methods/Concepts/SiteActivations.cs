using Mechanist.Methods.Attribution;
using Mechanist.Models;
using static TorchSharp.torch;

namespace Mechanist.Methods.Concepts;

/// <summary>
/// Per-token activations of a model at hook sites, one row per token (row r = sequence r / seq_len, position
/// r % seq_len, as concept labels are laid out): a [batch, pos, …] activation becomes [n_seq · seq_len, Π …]
/// (attention heads side by side for <c>hook_z</c>). Sites without a token axis (attention patterns and scores,
/// [batch, head, q, k]) are refused: a concept probe reads one vector per token.
/// </summary>
public static class SiteActivations
{
    /// <summary>Throws an input error naming the closest site when the model lacks <paramref name="site"/>.</summary>
    public static void RequireSite(IHookedModel model, string site) => AttributionCore.RequireSite(model, site);

    /// <summary>Runs <paramref name="tokens"/> [n_seq, seq_len] through the model in batches and returns each site's rows [N, d] (float32, CPU).</summary>
    public static Dictionary<string, Tensor> Harvest(IHookedModel model, Tensor tokens, IReadOnlyList<string> sites, int batchSize = 64,
        CancellationToken cancellation = default)
    {
        if (tokens.ndim != 2 || tokens.numel() == 0)
            throw new MechanistInputException($"token ids must be [n_sequences, seq_len], got [{string.Join(", ", tokens.shape)}].");
        sites = sites.Distinct().ToList();
        foreach (var site in sites) RequireSite(model, site);
        long nSeq = tokens.shape[0], seqLen = tokens.shape[1];
        var parts = sites.ToDictionary(s => s, _ => new List<Tensor>());
        using var noGrad = no_grad();
        for (long start = 0; start < nSeq; start += batchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            var batch = tokens.narrow(0, start, Math.Min(batchSize, nSeq - start));
            var seen = new Dictionary<string, Tensor>();
            var handles = new List<IDisposable>();
            try
            {
                foreach (var site in sites)
                    handles.Add(model.AddHook(site, a => { seen[site] = a.detach().clone().DetachFromDisposeScope(); return null; }));
                using (NewDisposeScope()) model.Run(batch);
            }
            finally
            {
                foreach (var h in handles) h.Dispose();
            }
            foreach (var site in sites)
            {
                if (!seen.TryGetValue(site, out var a)) throw new InvalidOperationException($"hook site {site} did not fire.");
                parts[site].Add(Rows(site, a, batch.shape[0], seqLen));
            }
        }
        var result = new Dictionary<string, Tensor>();
        foreach (var site in sites)
        {
            result[site] = cat(parts[site], 0).DetachFromDisposeScope();
            foreach (var p in parts[site]) p.Dispose();
        }
        return result;
    }

    /// <summary>[batch, pos, …] → [batch · pos, Π …] float32 on the CPU; consumes <paramref name="a"/>.</summary>
    static Tensor Rows(string site, Tensor a, long batch, long seqLen)
    {
        using (a)
        {
            if (a.ndim < 3 || a.shape[0] != batch || a.shape[1] != seqLen
                || site.EndsWith("hook_pattern", StringComparison.Ordinal) || site.EndsWith("hook_attn_scores", StringComparison.Ordinal))
                throw new MechanistInputException(
                    $"hook site {site} gives activations of shape [{string.Join(", ", a.shape)}]; a concept method reads one vector per token, [batch, pos, …] with pos = {seqLen} (attention patterns and scores are not per token).");
            return a.reshape(batch * seqLen, -1).to(ScalarType.Float32, CPU).contiguous().DetachFromDisposeScope();
        }
    }

    /// <summary>The raw shape of the activation at <paramref name="site"/> when the model runs <paramref name="input"/>.</summary>
    public static long[] HarvestShape(IHookedModel model, Tensor input, string site)
    {
        RequireSite(model, site);
        long[]? shape = null;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using (model.AddHook(site, a => { shape = a.shape; return null; }))
            model.Run(input);
        return shape ?? throw new InvalidOperationException($"hook site {site} did not fire.");
    }
}
