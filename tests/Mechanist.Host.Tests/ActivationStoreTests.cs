using System.Text.Json.Nodes;
using Mechanist.Host.Activations;
using Mechanist.IO;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Host.Tests;

public class ActivationStoreTests
{
    /// <summary>Writes a store of two sites from row blocks of the given sizes; returns the full matrices.</summary>
    static (Tensor A, Tensor B) WriteStore(string folder, long shardBytes, params int[] blocks)
    {
        var g = new Generator(7);
        var a = randn(blocks.Sum(), 3, generator: g);
        var b = randn(blocks.Sum(), 5, generator: g);
        ActivationStore.Write(folder, shardBytes, new JsonObject { ["note"] = "test" }, writer =>
        {
            long row = 0;
            foreach (var n in blocks)
            {
                writer.Append(new Dictionary<string, Tensor> { ["site.a"] = a.narrow(0, row, n), ["site.b"] = b.narrow(0, row, n) });
                row += n;
            }
        });
        return (a, b);
    }

    static Tensor ReadAll(IActivationSource source, int batchSize)
    {
        var batches = source.ReadBatches(batchSize).ToList();
        Assert.All(batches.SkipLast(1), t => Assert.Equal(batchSize, t.shape[0]));
        return cat(batches, 0);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(100)]
    public void Rows_come_back_in_order_across_shard_boundaries(int batchSize)
    {
        using var temp = new TempDir();
        using var scope = NewDisposeScope();
        // 32 bytes per row (3 + 5 floats) and 5 rows per shard; appends of 4, 9 and 2 rows straddle shards.
        var (a, b) = WriteStore(temp.File("s"), 5 * 32, 4, 9, 2);
        var store = ActivationStore.Open(temp.File("s"));
        Assert.Equal(15, store.Rows);
        Assert.Equal([5L, 5, 5], store.Shards.Select(s => s.Rows));
        Assert.Equal("test", (string?)store.Metadata["note"]);
        var sa = store.Site("site.a");
        Assert.Equal(3, sa.Dimension);
        Assert.Equal(15, sa.Count);
        Assert.True(TensorAssert.Identical(ReadAll(sa, batchSize), a));
        Assert.True(TensorAssert.Identical(ReadAll(store.Site("site.b"), batchSize), b));
        Assert.True(TensorAssert.Identical(ReadAll(ActivationSources.Open(temp.File("s"), "site.b"), batchSize), b));
    }

    [Fact]
    public void Site_selection()
    {
        using var temp = new TempDir();
        WriteStore(temp.File("s"), 1 << 20, 6);
        var store = ActivationStore.Open(temp.File("s"));
        Assert.Contains("choose one with --site", Assert.Throws<MechanistInputException>(() => store.Site(null)).Message);
        var e = Assert.Throws<MechanistInputException>(() => store.Site("site.c"));
        Assert.Contains("no site 'site.c'", e.Message);
        Assert.Contains("Did you mean 'site.a'?", e.Message);

        ActivationStore.Write(temp.File("one"), 1 << 20, new JsonObject(), w => w.Append(new Dictionary<string, Tensor> { ["only"] = ones(2, 2) }));
        var only = ActivationSources.Open(temp.File("one"));
        Assert.Equal("only", ActivationSources.SiteName(only, null));
    }

    [Fact]
    public void A_failed_write_leaves_nothing_and_keeps_an_existing_store()
    {
        using var temp = new TempDir();
        var (a, _) = WriteStore(temp.File("s"), 64, 6);
        Assert.Throws<InvalidOperationException>(() => ActivationStore.Write(temp.File("s"), 64, new JsonObject(), w =>
        {
            w.Append(new Dictionary<string, Tensor> { ["site.a"] = zeros(20, 3), ["site.b"] = zeros(20, 5) });
            throw new InvalidOperationException("interrupted");
        }));
        Assert.Throws<InvalidOperationException>(() => ActivationStore.Write(temp.File("new"), 64, new JsonObject(), _ => throw new InvalidOperationException("interrupted")));
        Assert.False(Directory.Exists(temp.File("new")));
        Assert.DoesNotContain(temp.Entries(), e => e.Contains(".tmp") || e.Contains(".old"));
        Assert.True(TensorAssert.Identical(ReadAll(ActivationStore.Open(temp.File("s")).Site("site.a"), 4), a));
    }

    static string Corrupt(TempDir temp, Action<JsonObject, string> edit)
    {
        WriteStore(temp.File("s"), 5 * 32, 12);
        var manifest = Path.Combine(temp.File("s"), "manifest.json");
        var json = JsonNode.Parse(File.ReadAllText(manifest))!.AsObject();
        edit(json, temp.File("s"));
        File.WriteAllText(manifest, json.ToJsonString());
        return Assert.Throws<MechanistInputException>(() => ActivationStore.Open(temp.File("s"))).Message;
    }

    [Fact]
    public void Corrupt_stores_are_input_errors_naming_the_file()
    {
        using (var t = new TempDir()) Assert.Contains("'format' is 'other'", Corrupt(t, (m, _) => m["format"] = "other"));
        using (var t = new TempDir()) Assert.Contains("version 2 is not supported", Corrupt(t, (m, _) => m["version"] = 2));
        using (var t = new TempDir()) Assert.Contains("the shards hold 12 rows but 'rows' is 13", Corrupt(t, (m, _) => m["rows"] = 13));
        using (var t = new TempDir()) Assert.Contains("must be a .safetensors file name inside the store folder", Corrupt(t, (m, _) => m["shards"]![0]!["file"] = "../x.safetensors"));
        using (var t = new TempDir()) Assert.Contains("shard-00001.safetensors: file not found", Corrupt(t, (_, f) => File.Delete(Path.Combine(f, "shard-00001.safetensors"))));
        using (var t = new TempDir()) Assert.Contains("the manifest expects F32 [5, 4]", Corrupt(t, (m, _) => m["sites"]![0]!["dimension"] = 4));
        using (var t = new TempDir()) Assert.Contains("truncated", Corrupt(t, (_, f) =>
        {
            var shard = Path.Combine(f, "shard-00002.safetensors");
            File.WriteAllBytes(shard, File.ReadAllBytes(shard)[..^8]);
        }));
        using (var t = new TempDir())
        {
            Directory.CreateDirectory(t.File("empty"));
            Assert.Contains("no manifest.json", Assert.Throws<MechanistInputException>(() => ActivationStore.Open(t.File("empty"))).Message);
            Assert.Contains("a folder without manifest.json", Assert.Throws<MechanistInputException>(() => ActivationSources.Open(t.File("empty"))).Message);
        }
    }

    [Fact]
    public void Non_finite_values_are_reported_with_the_store_row()
    {
        using var temp = new TempDir();
        var values = ones(12, 2);
        values[7, 1] = tensor(float.PositiveInfinity);
        ActivationStore.Write(temp.File("s"), 5 * 8, new JsonObject(), w => w.Append(new Dictionary<string, Tensor> { ["x"] = values }));
        var e = Assert.Throws<MechanistInputException>(() => ActivationStore.Open(temp.File("s")).Site("x").ReadBatches(4).ToList());
        Assert.Contains("shard-00001.safetensors", e.Message);
        Assert.Contains("an infinity at store row 7, column 1", e.Message);
    }
}
