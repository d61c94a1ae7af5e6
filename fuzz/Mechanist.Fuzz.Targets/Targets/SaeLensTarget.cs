using Mechanist.Decomposers;
using Mechanist.Host.Formats;
using static TorchSharp.torch;

namespace Mechanist.Fuzzing.Targets;

/// <summary>A SAELens-layout folder: <c>cfg.json</c> + <c>sae_weights.safetensors</c>, every architecture.</summary>
public sealed class SaeLensTarget : FuzzTarget
{
    public override string Name => "saelens";

    public override string Summary => "SAELens folder: cfg.json + sae_weights.safetensors (DecompositionFolder.Load)";

    public override IReadOnlyList<string> Files => [DecompositionFolder.ConfigFile, DecompositionFolder.WeightsFile];

    public override void Run(FuzzInput input)
    {
        using var d = DecompositionFolder.Load(input.Folder);
        DecompositionChecks.Exercise(d);
    }

    public override IEnumerable<Seed> Seeds(SeedContext context)
    {
        foreach (var arch in new[] { "standard", "topk", "topk_legacy", "jumprelu", "gated", "skip_transcoder" })
            yield return FromFolder(arch, Path.Combine(context.RepoRoot, "tests/Fixtures/saelens", arch));
        yield return FromFolder("release-resid", Path.Combine(context.RepoRoot, "samples/model-release/release/resid"));
        using var scope = NewDisposeScope();
        var crosscoder = new Crosscoder(Check.Input(6, 4), zeros(4), Check.Input(4, 6), zeros(6), sites: 2, ["a", "b"]);
        var folder = Path.Combine(context.NewFolder("saelens"), "crosscoder");
        DecompositionFolder.Save(folder, crosscoder);
        yield return FromFolder("crosscoder", folder);
        var transcoder = new Transcoder(Check.Input(3, 4), zeros(4), Check.Input(4, 2), zeros(2));
        folder = Path.Combine(context.NewFolder("saelens"), "transcoder");
        DecompositionFolder.Save(folder, transcoder);
        yield return FromFolder("transcoder", folder);
    }

    static Seed FromFolder(string name, string folder) =>
        new(name, [File.ReadAllBytes(Path.Combine(folder, DecompositionFolder.ConfigFile)), File.ReadAllBytes(Path.Combine(folder, DecompositionFolder.WeightsFile))]);

    public override IEnumerable<string> Dictionary =>
    [
        "\"architecture\"", "\"d_in\"", "\"d_sae\"", "\"k\"", "\"activation_fn_str\"", "\"activation_fn_kwargs\"", "\"topk\"",
        "\"standard\"", "\"jumprelu\"", "\"gated\"", "\"transcoder\"", "\"skip_transcoder\"", "\"crosscoder\"", "\"n_sites\"",
        "\"hook_names\"", "\"normalize_activations\"", "\"apply_b_dec_to_input\"", "\"rescale_acts_by_decoder_norm\"",
        "\"metadata\"", "\"hook_name\"", "\"mechanist\"", "\"W_enc\"", "\"b_enc\"", "\"W_dec\"", "\"b_dec\"", "\"threshold\"",
        "\"W_skip\"", "\"b_gate\"", "\"r_mag\"", "\"b_mag\"", "\"d_out\"", "\"F32\"", "\"F16\"", "\"BF16\"", "\"dtype\"",
        "\"shape\"", "\"data_offsets\"", "true", "false", "null", "0", "-1", "2147483648",
    ];
}
