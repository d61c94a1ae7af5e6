using Mechanist.Host.Gate;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.IO;
using Mechanist.Models;
using TorchSharp;

namespace Mechanist.Reports.Html;

/// <summary>
/// The feature cards a check report links its findings to: for each decomposition whose findings name features, a
/// dashboard of just those features, built from the decomposition's folder and the activations the configuration
/// gives it. A decomposition without a folder (trained during the run) gets no cards, and the report says so.
/// </summary>
public static class CheckFeatureCards
{
    /// <summary>At most this many features per decomposition get a card (the most-named first, then by index).</summary>
    public const int MaxFeatures = 256;

    public sealed record Result(IReadOnlyList<FeatureDashboard> Dashboards, IReadOnlyList<string> Gaps);

    /// <param name="model">the release's model when it could be loaded: token text for output effects.</param>
    /// <param name="unembedding">the map [d_in, vocab] from a site's space to the logits, when the model's weights hold one.</param>
    public static Result Build(CheckResult result, MethodCatalog catalog, IServiceProvider services, IHookedModel? model,
        Func<string?, torch.Tensor?>? unembedding, int seed = 0)
    {
        var dashboards = new List<FeatureDashboard>();
        var gaps = new List<string>();
        var named = result.Findings.Where(f => f.Decomposition is not null && f.Finding.Location.Feature is not null)
            .GroupBy(f => f.Decomposition!, StringComparer.Ordinal);
        foreach (var group in named)
        {
            var name = group.Key;
            if (!result.DecompositionFolders.TryGetValue(name, out var folder))
            {
                gaps.Add($"Decomposition '{name}' was trained during the check and not saved, so its features have no cards (give it a 'path' to a saved folder to get them).");
                continue;
            }
            var config = result.Config.Decompositions.FirstOrDefault(d => d.Name == name);
            var features = group.GroupBy(f => f.Finding.Location.Feature!.Value).OrderByDescending(g => g.Count()).ThenBy(g => g.Key)
                .Select(g => g.Key).Take(MaxFeatures).Order().ToList();
            int namedCount = group.Select(f => f.Finding.Location.Feature).Distinct().Count();
            using var decomposition = DecompositionFolder.Load(folder);
            features = features.Where(f => f >= 0 && f < decomposition.DSae).ToList();
            using var activations = config?.Activations is { } path && File.Exists(path) ? ActivationFiles.Load(path, config.Tensor ?? ActivationFiles.TensorName) : null;
            var localGaps = new List<string>();
            if (namedCount > features.Count) localGaps.Add($"Findings name {namedCount} features; cards are shown for {features.Count} of them.");
            if (config?.Activations is null) localGaps.Add("The configuration gives this decomposition no activations file.");
            var request = new DashboardRequest
            {
                Key = name, Decomposition = decomposition, DecompositionPath = folder, Site = config?.Site, ModelPath = result.Model,
                Activations = activations is not null && activations.Dimension == decomposition.DIn ? activations : null,
                TokenText = (model as ITokenizedModel)?.TokenText, Unembedding = unembedding?.Invoke(config?.Site), Features = features,
                Findings = group.Select(f => (CheckReportPage.View(result, f), f.Finding.Location.Feature)).ToList(),
                Gaps = localGaps, Seed = seed,
            };
            dashboards.Add(FeatureDashboards.Build(request, catalog, services));
        }
        return new Result(dashboards, gaps);
    }
}
