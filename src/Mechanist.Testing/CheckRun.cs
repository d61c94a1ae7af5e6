using System.Diagnostics;
using System.Text;
using Mechanist.Host.Gate;
using Mechanist.Host.Configuration;

namespace Mechanist.Testing;

/// <summary>
/// Runs a <c>mechanist.json</c> through the host's check driver (plan, execute, judge), in memory, with the methods of a
/// <see cref="MethodHost"/>: validators and attributions get exactly the inputs they get in a release gate — a model,
/// harvested activations and their tokens, decompositions, behaviours with corrupted inputs, model inputs.
/// </summary>
internal static class CheckRun
{
    /// <summary>Placeholder for <see cref="TinyModel.ModularAddition"/> in a config.</summary>
    public const string ModelPlaceholder = "{MODEL}";

    public static CheckResult Run(MethodHost host, string json, string? baseDirectory = null)
    {
        var folder = Path.Combine(Path.GetTempPath(), "mechanist-testing", "check-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        try
        {
            var path = Path.Combine(baseDirectory ?? folder, $"mechanist-{Guid.NewGuid():N}.json");
            var text = json.Replace(ModelPlaceholder, TinyModel.ModularAddition.Replace("\\", "\\\\"), StringComparison.Ordinal);
            CheckConfig config;
            try
            {
                config = CheckConfigReader.Parse(Encoding.UTF8.GetBytes(text), Path.GetFullPath(path));
                var options = new CheckRunOptions { CacheFolder = Path.Combine(folder, "cache") };
                var watch = Stopwatch.StartNew();
                var plan = CheckPlanner.Plan(config, host.Host, host.PluginPaths.Select(p => (p, "")).ToList(), options);
                var execution = CheckExecutor.Execute(plan, options);
                return CheckJudge.Judge(plan, execution, options, plan.Baseline, watch.Elapsed);
            }
            catch (CheckInputException e)
            {
                throw new VerificationException("the configuration of the verification is not valid (each line is what mechanist check would say):" +
                    Environment.NewLine + string.Join(Environment.NewLine, e.Problems.Select(p => "  " + p.ToCanonical().Replace(path, "mechanist.json"))));
            }
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    public static ReportedLike Shape(ReportedFinding f) =>
        new(f.Id, f.Decomposition, f.Finding.Location.Site, f.Finding.Location.Feature, f.Severity, f.Finding.Message);
}
