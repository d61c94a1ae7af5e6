using Mechanist.Decomposers;
using Mechanist.Host.Discovery;
using static TorchSharp.torch;

namespace Mechanist.Fuzzing.Targets;

/// <summary>
/// An SAE training checkpoint (<c>step-N/trainer.json</c> + <c>step-N/state.safetensors</c>) resumed by a small
/// TopK training run with the same options: the checkpoint is read, restored into the trainer, and training goes on
/// to the last step.
/// </summary>
public sealed class SaeCheckpointTarget : FuzzTarget
{
    const string Method = "sae.topk";
    const string Step = "step-000000002";

    public override string Name => "sae-checkpoint";

    public override string Summary => "SAE training checkpoints: trainer.json + state.safetensors (SaeCheckpoint.LoadLatest, resume)";

    public override IReadOnlyList<string> Files => [$"ckpt/{Step}/trainer.json", $"ckpt/{Step}/state.safetensors"];

    static Dictionary<string, string> Settings(string checkpointDir) => new()
    {
        ["d_sae"] = "8", ["k"] = "2", ["steps"] = "4", ["batch_size"] = "4", ["checkpoint_every"] = "2",
        ["checkpoint_dir"] = checkpointDir, ["shuffle_buffer"] = "1",
    };

    static Decomposition Fit(string checkpointDir, CancellationToken cancellation = default, IProgress<ProgressReport>? progress = null)
    {
        var host = SharedHost.Instance;
        var entry = host.Catalog.Resolve(Method, MethodKind.Decomposer);
        var decomposer = MethodCatalog.Create<Decomposer>(entry, host.Services);
        using var scope = NewDisposeScope();
        using var data = new ActivationMatrix("fuzz-activations", Check.Input(16, 4));
        return decomposer.Fit(new DecomposeContext
        {
            Activations = data, Options = MethodCatalog.BindOptions(entry, Settings(checkpointDir)), Seed = 1,
            CancellationToken = cancellation, Progress = progress,
        });
    }

    public override void Run(FuzzInput input)
    {
        using var d = Fit(Path.Combine(input.Folder, "ckpt"));
        Check.That(d.DIn == 4 && d.DSae == 8, $"resumed run returned d_in {d.DIn}, d_sae {d.DSae}");
        DecompositionChecks.Exercise(d);
    }

    public override IEnumerable<Seed> Seeds(SeedContext context)
    {
        var dir = Path.Combine(context.NewFolder("sae-checkpoint"), "ckpt");
        using var cts = new CancellationTokenSource();
        try
        {
            using var _ = Fit(dir, cts.Token, new SyncProgress(p => { if (p.Step >= 2) cts.Cancel(); }));
        }
        catch (OperationCanceledException) { }
        yield return new("topk-step-2", Files.Select(f => File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(dir)!, f))).ToList());
    }

    sealed class SyncProgress(Action<ProgressReport> report) : IProgress<ProgressReport>
    {
        public void Report(ProgressReport value) => report(value);
    }

    public override IEnumerable<string> Dictionary =>
    [
        "\"format\"", "\"step\"", "\"fingerprint\"", "\"method\"", "\"sae.topk\"", "\"param.W_enc_T\"", "\"param.W_dec\"",
        "\"param.b_dec\"", "\"param.b_enc\"", "\"adam_m.\"", "\"adam_v.\"", "\"buffer.\"", "\"input_scale\"", "\"output_scale\"",
        "\"rows_since_fired\"", "\"F32\"", "\"I64\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "0", "-1", "9223372036854775807", "1e400",
    ];
}
