using System.Security.Cryptography;
using System.Text;
using Mechanist.Host;
using Mechanist.Host.Activations;
using Mechanist.Host.Models;
using Mechanist.Models;
using Mechanist.Models.Text;
using static TorchSharp.torch;

namespace Mechanist.Sweeps.Planning;

/// <summary>
/// The sweep's harvest: runs the model over the text or token file once and keeps the hook sites in an activation
/// store under <c>OUT/activations/HASH/</c>, HASH covering the model folder's and data file's content and the
/// harvest settings. A store already there (an earlier run of the same sweep) is used as it is.
/// </summary>
public static class SweepHarvest
{
    public static string Ensure(HarvestSpec spec, string outputRoot, MechanistHost host, Device device, InputHashes hashes,
        IProgress<ProgressReport>? progress = null)
    {
        var key = string.Join('\n', "harvest/1", hashes.Of(spec.Model), hashes.Of(spec.Text ?? spec.Tokens!), spec.Text is null ? "tokens" : "text",
            string.Join(',', spec.Sites), spec.BatchSize, spec.Context?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "");
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16];
        var folder = Path.Combine(outputRoot, SweepLayout.ActivationsFolder, hash);
        if (ActivationStore.IsStore(folder)) return folder;

        using var loaded = ModelFolder.Load(spec.Model, host.Catalog, host.Services, device);
        if (loaded is not ILanguageModel model)
            throw new MechanistInputException($"{spec.Model}: model type '{loaded.ModelType}' does not read token ids, so it cannot be harvested over text or token files.");
        var sites = Harvester.ResolveSites(model, spec.Sites);
        int context = spec.Context ?? model.ContextLength;
        if (context > model.ContextLength)
            throw new MechanistInputException($"harvest.context is {context}, more than the model's {model.ContextLength} positions.");
        var tokens = spec.Text is { } text
            ? TokenSequences.ReadText(text, model.VocabSize, context)
            : TokenSequences.ReadJsonl(spec.Tokens!, model.VocabSize, context);
        Harvester.ToStore(folder, model, tokens, sites, spec.BatchSize, Harvester.Metadata(spec.Model, model.ModelType, tokens, sites),
            progress: progress);
        return folder;
    }
}
