using System.Diagnostics;
using Mechanist.Host.Activations;
using Mechanist.Models.Architectures;
using Mechanist.Models.Text;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Host.Tests;

/// <summary>
/// The harvest cache of <c>mechanist check</c>: keyed by the content of the model's files, the token ids and the
/// site; entries appear complete or not at all, are never replaced, and survive concurrent and killed harvests.
/// </summary>
public sealed class HarvestCacheTests
{
    const string Site = "blocks.0.mlp.hook_post";

    static string ShippedModel => Path.Combine(Repo.Root, "samples", "models", "modular-addition");

    /// <summary>A copy of the shipped model folder (config.json + model.safetensors) that a test may edit.</summary>
    static string CopyModel(TempDir temp)
    {
        var folder = temp.File("model");
        Directory.CreateDirectory(folder);
        foreach (var f in new[] { "config.json", "model.safetensors" }) File.Copy(Path.Combine(ShippedModel, f), Path.Combine(folder, f));
        return folder;
    }

    static TokenSequences Pairs(int count, int offset = 0) =>
        TokenSequences.FromSequences("pairs", Enumerable.Range(offset, count).Select(i => new long[] { i % 113, (i * 7) % 113, 113 }));

    static HarvestRequest Request(ModularAdditionTransformer model, string folder, TokenSequences tokens, string site = Site) =>
        new(model, folder, tokens, ModelInputsHash(tokens), site, "pairs");

    static string ModelInputsHash(TokenSequences tokens) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(tokens.Sequences.SelectMany(s => s).SelectMany(BitConverter.GetBytes).ToArray()));

    static float[] Rows(ActivationStore store) =>
        cat(store.Site(Site).ReadBatches(4096).ToList(), 0).data<float>().ToArray();

    static IReadOnlyList<string> Temporary(string cache) =>
        Directory.EnumerateDirectories(cache).Select(Path.GetFileName).Where(n => n!.Contains("tmp-", StringComparison.Ordinal)).ToList()!;

    [Fact]
    public void An_entry_is_reused_and_any_change_to_the_weights_tokens_or_site_harvests_again()
    {
        using var temp = new TempDir();
        var folder = CopyModel(temp);
        using var model = ModularAdditionTransformer.Load(folder);
        var tokens = Pairs(40);
        using var cache = new HarvestCache(temp.File("cache"));

        var first = cache.GetOrHarvest(Request(model, folder, tokens), batchSize: 16);
        Assert.True(first.Harvested);
        Assert.Equal(120, first.Store.Rows);
        // The entry holds what a plain harvest gives: one row per token, sequence then position.
        var expected = new List<float>();
        Harvester.Run(model, tokens, [Site], 16, rows => expected.AddRange(rows[Site].data<float>().ToArray()));
        Assert.Equal(expected, Rows(first.Store));

        // Unchanged inputs: reused, even when only the files' times changed.
        File.SetLastWriteTimeUtc(Path.Combine(folder, "model.safetensors"), DateTime.UtcNow.AddMinutes(5));
        using (var again = new HarvestCache(temp.File("cache")))
        {
            var second = again.GetOrHarvest(Request(model, folder, tokens), batchSize: 16);
            Assert.False(second.Harvested);
            Assert.Equal(first.Key, second.Key);
            Assert.Equal(Directory.GetFiles(first.Folder).Order(), again.UsedFiles);
        }

        // Another site, other tokens, other weights: other keys.
        Assert.NotEqual(first.Key, cache.KeyOf(Request(model, folder, tokens, "blocks.0.hook_resid_post")));
        Assert.NotEqual(first.Key, cache.KeyOf(Request(model, folder, Pairs(40, offset: 1))));
        var bytes = File.ReadAllBytes(Path.Combine(folder, "model.safetensors"));
        bytes[^1] ^= 0x01; // one bit of the last weight
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), bytes);
        using (var edited = new HarvestCache(temp.File("cache")))
        {
            var third = edited.GetOrHarvest(Request(model, folder, tokens), batchSize: 16);
            Assert.True(third.Harvested);
            Assert.NotEqual(first.Key, third.Key);
        }
        Assert.Empty(Temporary(temp.File("cache")));
    }

    [Fact]
    public void Concurrent_harvests_of_one_entry_leave_one_complete_entry()
    {
        using var temp = new TempDir();
        var tokens = Pairs(300);
        using var barrier = new Barrier(2);
        var entries = new HarvestEntry[2];
        var rows = new float[2][];
        var threads = Enumerable.Range(0, 2).Select(i => new Thread(() =>
        {
            using var model = ModularAdditionTransformer.Load(ShippedModel);
            using var cache = new HarvestCache(temp.File("cache"));
            barrier.SignalAndWait();
            entries[i] = cache.GetOrHarvest(Request(model, ShippedModel, tokens), batchSize: 8);
            rows[i] = Rows(entries[i].Store);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(entries[0].Key, entries[1].Key);
        Assert.Equal(rows[0], rows[1]);
        Assert.Equal([entries[0].Key], Directory.EnumerateDirectories(temp.File("cache")).Select(Path.GetFileName));
        Assert.Equal(900, ActivationStore.Open(entries[0].Folder).Rows);
    }

    [Fact]
    public void What_a_killed_harvest_leaves_is_removed_and_an_unreadable_entry_is_harvested_again()
    {
        using var temp = new TempDir();
        var cacheFolder = temp.File("cache");
        Directory.CreateDirectory(cacheFolder);
        // A process that is gone: its temporary folders (the harvester's and the store writer's) hold a partial shard.
        using var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        gone.WaitForExit();
        foreach (var name in new[] { $"tmp-{gone.Id}-0123456789abcdef", $".tmp-{gone.Id}-0123456789abcdef.fedcba9876543210.tmp" })
        {
            Directory.CreateDirectory(Path.Combine(cacheFolder, name));
            File.WriteAllBytes(Path.Combine(cacheFolder, name, "shard-00000.safetensors"), new byte[100]);
        }
        // A folder of this (live) process is someone's harvest in progress: left alone.
        var live = Path.Combine(cacheFolder, $"tmp-{Environment.ProcessId}-00000000000000000000000000000000");
        Directory.CreateDirectory(live);

        using var model = ModularAdditionTransformer.Load(ShippedModel);
        var tokens = Pairs(20);
        using (var cache = new HarvestCache(cacheFolder))
        {
            Assert.Equal([Path.GetFileName(live)], Temporary(cacheFolder));
            var entry = cache.GetOrHarvest(Request(model, ShippedModel, tokens), batchSize: 8);
            Assert.True(entry.Harvested);

            // An entry damaged behind the cache's back (a truncated shard) is set aside and harvested again.
            var shard = Directory.GetFiles(entry.Folder, "shard-*").Single();
            File.WriteAllBytes(shard, File.ReadAllBytes(shard)[..50]);
        }
        Directory.Delete(live);
        using (var cache = new HarvestCache(cacheFolder))
        {
            var entry = cache.GetOrHarvest(Request(model, ShippedModel, tokens), batchSize: 8);
            Assert.True(entry.Harvested);
            Assert.Equal(60, Rows(entry.Store).Length / 512);
        }
        Assert.Empty(Temporary(cacheFolder));
    }
}
