using System.Text.Json.Nodes;
using Mechanist.Host.Activations;
using static TorchSharp.torch;

namespace Mechanist.Fuzzing.Targets;

/// <summary>
/// An activation store folder: <c>manifest.json</c> and its shards. Every site of an opened store is streamed to
/// the end; the rows must add up to what the manifest says.
/// </summary>
public sealed class ActivationStoreTarget : FuzzTarget
{
    public override string Name => "activation-store";

    public override string Summary => "activation store: manifest.json + shard-*.safetensors (ActivationStore.Open, streaming reads)";

    public override IReadOnlyList<string> Files => [ActivationStore.ManifestFile, "shard-00000.safetensors", "shard-00001.safetensors"];

    public override void Run(FuzzInput input)
    {
        var store = ActivationStore.Open(input.Folder);
        Check.That(store.Shards.Sum(s => s.Rows) == store.Rows, "shard rows do not add up");
        foreach (var site in store.Sites)
        {
            var source = store.Site(site.Name);
            Check.That(source.Count == store.Rows && source.Dimension == site.Dimension, $"site '{site.Name}' size");
            long rows = 0;
            foreach (var batch in source.ReadBatches(3))
            {
                using (batch)
                {
                    Check.Shape(batch, "batch", batch.shape[0], site.Dimension);
                    rows += batch.shape[0];
                }
            }
            Check.That(rows == store.Rows, $"site '{site.Name}' streamed {rows} rows of {store.Rows}");
            (source as IDisposable)?.Dispose();
        }
    }

    public override IEnumerable<Seed> Seeds(SeedContext context)
    {
        foreach (var (name, shardBytes, sites) in new[] { ("two-sites", 60L, new[] { ("hook_embed", 2), ("blocks.0.hook_resid_post", 3) }), ("one-site", 1000L, new[] { ("resid", 4) }) })
        {
            var folder = Path.Combine(context.NewFolder("store"), name);
            using (NewDisposeScope())
            {
                ActivationStore.Write(folder, shardBytes, new JsonObject { ["model"] = "fuzz" }, writer =>
                {
                    for (int i = 0; i < 2; i++)
                        writer.Append(sites.ToDictionary(s => s.Item1, s => Check.Input(3, s.Item2)));
                });
            }
            yield return new(name, Files.Select(f => Path.Combine(folder, f)).Select(p => File.Exists(p) ? File.ReadAllBytes(p) : []).ToList());
        }
    }

    public override IEnumerable<string> Dictionary =>
    [
        "\"format\"", "\"mechanist.activation-store\"", "\"version\"", "\"dtype\"", "\"F32\"", "\"rows\"", "\"sites\"", "\"name\"",
        "\"dimension\"", "\"shards\"", "\"file\"", "\"metadata\"", "\"shard-00000.safetensors\"", "\"shard-00001.safetensors\"",
        "\"..\"", "\"shape\"", "\"data_offsets\"", "0", "1", "-1", "2147483648", "1e400", "null",
    ];
}
