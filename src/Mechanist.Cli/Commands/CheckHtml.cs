using Mechanist.Cli.CommandLine;
using Mechanist.Host;
using Mechanist.Host.Models;
using Mechanist.Host.Gate;
using Mechanist.Host.Discovery;
using Mechanist.Models;
using Mechanist.Reports.Html;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist check --format html</c>: the check report page, with cards for the features its findings name (built
/// from the release's model and each decomposition's folder and activations).
/// </summary>
static class CheckHtml
{
    public static string Render(CheckResult result, ParsedArguments args, int exitCode)
    {
        using var host = MechanistHost.Create(args.GetAll("plugins"));
        var gaps = new List<string>();
        IHookedModel? model = null;
        bool wantsCards = result.Findings.Any(f => f.Finding.Location.Feature is not null);
        if (wantsCards && result.Model is not null)
        {
            try
            {
                model = ModelFolder.Load(result.Model, host.Catalog, host.Services, CPU, result.Config.Seed);
            }
            catch (Exception e) when (e is MechanistInputException or MethodFailedException)
            {
                gaps.Add($"The model {result.Model} could not be loaded for the feature cards ({e.Message}): tokens are shown by id.");
            }
        }
        using (model)
        {
            var cards = wantsCards
                ? CheckFeatureCards.Build(result, host.Catalog, host.Services, model,
                    model is IEmbeddingModel embedding ? embedding.Unembedding : null, seed: result.Config.Seed)
                : new CheckFeatureCards.Result([], []);
            gaps.AddRange(cards.Gaps);
            return CheckReportPage.Render(result, CliApp.Version, exitCode, cards.Dashboards, gaps);
        }
    }
}
