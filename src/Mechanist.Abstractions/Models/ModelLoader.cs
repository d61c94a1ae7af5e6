using System.Text.Json.Nodes;
using Mechanist.Options;

namespace Mechanist.Models;

/// <summary>
/// Extension point: brings an architecture. The ID in <c>[ModelLoader("id")]</c> is the <c>model_type</c> of the
/// <c>config.json</c> it reads; the folder also holds <c>model.safetensors</c>.
/// </summary>
public abstract class ModelLoader
{
    public abstract IHookedModel Load(ModelLoadContext context);
}

public sealed class ModelLoadContext : MethodContext
{
    /// <summary>The model folder.</summary>
    public required string Folder { get; init; }

    /// <summary>The parsed <c>config.json</c>.</summary>
    public required JsonObject Config { get; init; }
}

/// <summary>A loaded model exposing named hook sites (TransformerLens names).</summary>
public interface IHookedModel : IDisposable
{
    string ModelType { get; }

    IReadOnlyList<string> HookSites { get; }

    /// <summary>Runs the model; active hooks fire.</summary>
    TorchSharp.torch.Tensor Run(TorchSharp.torch.Tensor input);

    /// <summary>
    /// Adds a hook at <paramref name="site"/>: it sees the activation and returns a replacement or null to keep it.
    /// Dispose the handle to remove the hook.
    /// </summary>
    IDisposable AddHook(string site, Func<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor?> hook);

    /// <summary>How many hooks are registered now (zero after every method, on success and on error).</summary>
    int ActiveHookCount { get; }
}
