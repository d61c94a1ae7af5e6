using Mechanist.Models.Architectures;

namespace Mechanist.Testing;

/// <summary>
/// A tiny model folder for tests: the one-layer modular-addition transformer (Nanda et al. 2023) over p = 13, d_model 16,
/// two heads, d_mlp 32, randomly initialised with a fixed seed. It has every TransformerLens hook site of the
/// architecture, token inputs "a b =", and a task (labels) for behaviours. Written once per process to a temporary
/// folder (deleted at exit) and loaded through the host's <c>modular-addition</c> model loader like any model folder.
/// </summary>
public static class TinyModel
{
    static readonly Lazy<string> Folder = new(Write, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>p: inputs are [a, b, p] with a, b &lt; p, the answer (a + b) mod p.</summary>
    public const int P = 13;

    /// <summary>The MLP's activation site, [batch, 3, 32].</summary>
    public const string MlpSite = "blocks.0.mlp.hook_post";

    /// <summary>The width of <see cref="MlpSite"/>.</summary>
    public const int MlpWidth = 32;

    /// <summary>The model folder (<c>config.json</c> + <c>model.safetensors</c>).</summary>
    public static string ModularAddition => Folder.Value;

    static string Write()
    {
        var root = Path.Combine(Path.GetTempPath(), "mechanist-testing", $"tiny-model-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var folder = Path.Combine(root, "modular-addition");
        using (var model = ModularAdditionTransformer.Create(new ModularAdditionConfig { P = P, DModel = 16, NHeads = 2, DHead = 8, DMlp = MlpWidth }, seed: 0))
            model.Save(folder);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return folder;
    }
}
