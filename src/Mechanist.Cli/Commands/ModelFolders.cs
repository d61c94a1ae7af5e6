using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Host;
using Mechanist.Host.Discovery;
using Mechanist.Host.Models;
using Mechanist.IO;
using Mechanist.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>
/// Model folders for <c>attribute</c> and <c>interpret</c>: loading goes through the host's
/// <see cref="ModelFolder"/> (config.json → model_type → the catalog's loader); this class adds the weight look-ups
/// the interpreters need (unembedding and embedding matrices, <see cref="ModelWeights"/>).
/// </summary>
internal static class ModelFolders
{
    public const string WeightsFile = "model.safetensors";

    public static IHookedModel Load(string folder, MechanistHost host, Device device, int seed) =>
        ModelFolder.Load(folder, host.Catalog, host.Services, device, seed);

    /// <summary>The map from a site's space to the logits (<see cref="ModelWeights.Unembedding"/>).</summary>
    public static Tensor? Unembedding(string folder, string? site) => ModelWeights.Unembedding(folder, site);

    /// <summary>The token embedding [vocab, d_model] (<see cref="ModelWeights.Embedding"/>).</summary>
    public static Tensor? Embedding(string folder) => ModelWeights.Embedding(folder);
}
