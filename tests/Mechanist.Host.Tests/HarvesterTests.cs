using System.Text.Json.Nodes;
using Mechanist.Host.Activations;
using Mechanist.IO;
using Mechanist.Models.Architectures;
using Mechanist.Models.Runtime;
using Mechanist.Models.Text;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Host.Tests;

public class HarvesterTests
{
    static Gpt2Model Model() => Gpt2Model.CreateRandom(new Gpt2Config { NLayer = 2, NEmbd = 8, NHead = 2, VocabSize = 30, NPositions = 6 }, 4);

    /// <summary>Sequences of varied length (equal-length runs are batched together).</summary>
    static TokenSequences Tokens()
    {
        var random = new Random(5);
        int[] lengths = [6, 6, 6, 3, 3, 6, 1];
        return TokenSequences.FromSequences("test", lengths.Select(n => Enumerable.Range(0, n).Select(_ => (long)random.Next(30)).ToArray()));
    }

    [Fact]
    public void Rows_are_each_sequence_run_alone_in_sequence_then_position_order()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var tokens = Tokens();
        string[] sites = ["blocks.1.hook_resid_post", "blocks.0.attn.hook_z", "blocks.0.attn.hook_pattern", "blocks.1.attn.hook_attn_scores", "unembed.hook_out"];
        var collected = sites.ToDictionary(s => s, _ => new List<Tensor>());
        Harvester.Run(model, tokens, sites, batchSize: 2, rows =>
        {
            foreach (var (site, t) in rows) collected[site].Add(t.clone().DetachFromDisposeScope());
        });
        var got = collected.ToDictionary(kv => kv.Key, kv => cat(kv.Value, 0));
        Assert.Equal(tokens.TotalTokens, got["unembed.hook_out"].shape[0]);
        Assert.Equal([tokens.TotalTokens, 8], got["blocks.1.hook_resid_post"].shape);
        Assert.Equal([tokens.TotalTokens, 8], got["blocks.0.attn.hook_z"].shape); // heads x d_head
        Assert.Equal([tokens.TotalTokens, 2 * 6], got["blocks.0.attn.hook_pattern"].shape); // heads x context

        long row = 0;
        foreach (var sequence in tokens.Sequences)
        {
            int n = sequence.Length;
            var (logits, cache) = model.RunWithCache(tensor(sequence).reshape(1, n), sites);
            Assert.InRange((got["unembed.hook_out"].narrow(0, row, n) - logits[0]).abs().max().item<float>(), 0, 1e-5);
            Assert.InRange((got["blocks.1.hook_resid_post"].narrow(0, row, n) - cache["blocks.1.hook_resid_post"][0]).abs().max().item<float>(), 0, 1e-5);
            var pattern = got["blocks.0.attn.hook_pattern"].narrow(0, row, n).reshape(n, 2, 6);
            Assert.InRange((pattern.narrow(2, 0, n) - cache["blocks.0.attn.hook_pattern"][0].permute(1, 0, 2)).abs().max().item<float>(), 0, 1e-6);
            if (n < 6)
            {
                Assert.Equal(0f, pattern.narrow(2, n, 6 - n).abs().max().item<float>());
                var scores = got["blocks.1.attn.hook_attn_scores"].narrow(0, row, n).reshape(n, 2, 6);
                Assert.True(scores.narrow(2, n, 6 - n).isneginf().all().item<bool>());
            }
            row += n;
        }
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void File_and_store_outputs_hold_the_same_rows()
    {
        using var temp = new TempDir();
        using var scope = NewDisposeScope();
        using var model = Model();
        var tokens = Tokens();
        string[] sites = ["blocks.0.hook_resid_mid", "blocks.1.mlp.hook_post"];
        var metadata = Harvester.Metadata("m", "gpt2", tokens, sites);
        Harvester.ToFile(temp.File("a.safetensors"), model, tokens, sites, 3, metadata);
        Harvester.ToStore(temp.File("store"), model, tokens, sites, 3, metadata, shardBytes: 10 * (8 + 32) * 4);
        var file = Safetensors.ReadAll(temp.File("a.safetensors"));
        var header = Safetensors.ReadHeader(temp.File("a.safetensors"));
        Assert.Equal("sequence-then-position", header.Metadata["row_order"]);
        Assert.Equal("gpt2", header.Metadata["model_type"]);
        var store = ActivationStore.Open(temp.File("store"));
        Assert.True(store.Shards.Count > 1);
        foreach (var site in sites)
        {
            var streamed = cat(store.Site(site).ReadBatches(5).ToList(), 0);
            Assert.True(TensorAssert.Identical(file[site], streamed), site);
        }
        Assert.Equal(31L, (long)store.Metadata["tokens"]!);
    }

    [Fact]
    public void The_forward_pass_stops_after_the_last_requested_site()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var tokens = Tokens();
        string[] sites = ["blocks.0.mlp.hook_post", "blocks.0.hook_attn_out"];
        int later = 0;
        using var counter = model.AddHook("blocks.1.hook_resid_pre", _ => { later++; return null; });
        var rows = new List<Tensor>();
        Harvester.Run(model, tokens, sites, 4, r => rows.Add(r["blocks.0.mlp.hook_post"].clone().DetachFromDisposeScope()));
        Assert.Equal(0, later);
        counter.Dispose();
        Assert.Equal(0, model.ActiveHookCount);

        var expected = tokens.Sequences.Select(s => model.RunWithCache(tensor(s).reshape(1, s.Length), [sites[0]]).Cache[sites[0]][0]);
        Assert.InRange((cat(rows, 0) - cat(expected.ToList(), 0)).abs().max().item<float>(), 0, 1e-5);
    }

    [Fact]
    public void Unknown_sites_suggest_the_closest()
    {
        using var model = Model();
        var e = Assert.Throws<MechanistInputException>(() => Harvester.ResolveSites(model, ["blocks.1.hook_resid_psot"]));
        Assert.Contains("no hook site 'blocks.1.hook_resid_psot'", e.Message);
        Assert.Contains("Did you mean 'blocks.1.hook_resid_post'?", e.Message);
        Assert.Equal(["hook_embed"], Harvester.ResolveSites(model, ["hook_embed", "hook_embed"]));
    }

    [Fact]
    public void A_failing_harvest_writes_nothing()
    {
        using var temp = new TempDir();
        using var model = Model();
        var tokens = Tokens();
        using var cts = new CancellationTokenSource();
        var progress = new Callback(p => { if (p.Step > 10) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() =>
            Harvester.ToStore(temp.File("s"), model, tokens, ["hook_embed"], 2, new JsonObject(), progress: progress, cancellation: cts.Token));
        Assert.Empty(temp.Entries());
        Assert.Equal(0, model.ActiveHookCount);
    }

    sealed class Callback(Action<ProgressReport> action) : IProgress<ProgressReport>
    {
        public void Report(ProgressReport value) => action(value);
    }
}
