using Mechanist.Host.Formats;

namespace Mechanist.Fuzzing.Targets;

/// <summary>An EleutherAI sparsify folder: <c>cfg.json</c> + <c>sae.safetensors</c>.</summary>
public sealed class SparsifyTarget : FuzzTarget
{
    public override string Name => "sparsify";

    public override string Summary => "sparsify folder: cfg.json + sae.safetensors (DecompositionFolder.Load → SparsifyFolder)";

    public override IReadOnlyList<string> Files => [DecompositionFolder.ConfigFile, SparsifyFolder.WeightsFile];

    public override void Run(FuzzInput input)
    {
        using var d = DecompositionFolder.Load(input.Folder);
        DecompositionChecks.Exercise(d);
    }

    public override IEnumerable<Seed> Seeds(SeedContext context)
    {
        var folder = Path.Combine(context.RepoRoot, "tests/Fixtures/saelens/sparsify");
        var cfg = File.ReadAllBytes(Path.Combine(folder, DecompositionFolder.ConfigFile));
        var weights = File.ReadAllBytes(Path.Combine(folder, SparsifyFolder.WeightsFile));
        yield return new("fixture", [cfg, weights]);
        yield return new("transcode", [System.Text.Encoding.UTF8.GetBytes(
            System.Text.Encoding.UTF8.GetString(cfg).Replace("\"transcode\": false", "\"transcode\": true")), weights]);
    }

    public override IEnumerable<string> Dictionary =>
    [
        "\"d_in\"", "\"num_latents\"", "\"expansion_factor\"", "\"k\"", "\"activation\"", "\"topk\"", "\"groupmax\"",
        "\"transcode\"", "\"skip_connection\"", "\"multi_topk\"", "\"normalize_decoder\"", "\"encoder.weight\"",
        "\"encoder.bias\"", "\"W_dec\"", "\"b_dec\"", "\"W_skip\"", "\"F32\"", "\"BF16\"", "\"dtype\"", "\"shape\"",
        "\"data_offsets\"", "true", "false", "null", "0", "-1", "2147483647", "1e400",
    ];
}
