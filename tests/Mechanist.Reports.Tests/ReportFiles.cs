using System.Text.Json.Nodes;
using Mechanist.Interpreters;
using Mechanist.Reports.Html;
using Mechanist.Testing;

namespace Mechanist.Reports.Tests;

/// <summary>
/// The HTML files the browser tests open, each made once: by the real commands on the shipped sample (dashboard,
/// check report, compare report) and on the tiny GPT-2 fixture (a model without a known tokenizer), and from
/// interpreter records written here (hostile token text, 1,000 features).
/// </summary>
public sealed class ReportFiles : IDisposable
{
    readonly TempDir _temp = new();
    readonly Lazy<string> _dashboard, _check, _compare, _noTokenizer, _noActivations, _hostile, _large;

    public ReportFiles()
    {
        _dashboard = new(MakeDashboard);
        _check = new(MakeCheck);
        _compare = new(MakeCompare);
        _noTokenizer = new(MakeNoTokenizer);
        _noActivations = new(() => Report("bare.html", "--decomposition", Cli.Sae));
        _hostile = new(MakeHostile);
        _large = new(MakeLarge);
    }

    public string Dir => _temp.Path;

    /// <summary>The shipped SAE over the shipped model and tokens, with the findings of a check that names features.</summary>
    public string Dashboard => _dashboard.Value;
    public string Check => _check.Value;
    public string Compare => _compare.Value;
    public string NoTokenizer => _noTokenizer.Value;
    public string NoActivations => _noActivations.Value;
    public string Hostile => _hostile.Value;
    public string Large => _large.Value;

    /// <summary>The check configuration: the sample's release, with held-out explanation consistency held to a bar it fails per feature.</summary>
    public string CheckConfig
    {
        get
        {
            var path = _temp.File("mechanist.json");
            if (!File.Exists(path))
            {
                var config = new JsonObject
                {
                    ["model"] = Cli.Model,
                    ["device"] = "cpu",
                    ["decompositions"] = new JsonObject
                    {
                        ["resid"] = new JsonObject { ["site"] = "blocks.0.hook_resid_post", ["activations"] = Cli.Activations, ["path"] = Cli.Sae },
                        ["resid_pca_baseline"] = new JsonObject
                        {
                            ["site"] = "blocks.0.hook_resid_post", ["activations"] = Cli.Activations, ["method"] = "pca",
                            ["options"] = new JsonObject { ["components"] = 16 },
                        },
                    },
                    ["validations"] = new JsonArray(
                        new JsonObject { ["method"] = "decomposition.quality" },
                        new JsonObject { ["method"] = "explanation.consistency", ["options"] = new JsonObject { ["max_features"] = 6 } }),
                    ["checks"] = new JsonObject
                    {
                        ["MECH1001"] = new JsonObject { ["severity"] = "error", ["threshold"] = 0.99 },
                        ["MECH4001"] = new JsonObject { ["severity"] = "warning", ["threshold"] = 0.95 },
                    },
                };
                File.WriteAllText(path, config.ToJsonString());
            }
            return path;
        }
    }

    string Report(string name, params string[] args)
    {
        var path = _temp.File(name);
        Cli.Ok(["report", .. args, "--out", path]);
        return path;
    }

    string MakeDashboard()
    {
        var checkJson = _temp.File("check.json");
        var r = Cli.Run("check", CheckConfig, "--format", "json", "--out", checkJson);
        Assert.True(r.ExitCode == 1, r.ToString()); // MECH1001 at error severity
        return Report("dashboard.html", "--decomposition", Cli.Sae, "--model", Cli.Model, "--tokens", Cli.Tokens, "--check", checkJson);
    }

    string MakeCheck()
    {
        var path = _temp.File("check.html");
        var r = Cli.Run("check", CheckConfig, "--format", "html", "--out", path);
        Assert.True(r.ExitCode == 1, r.ToString());
        return path;
    }

    string MakeCompare()
    {
        var dir = _temp.File("compare");
        Cli.Ok("compare", "--activations", Cli.Superposition, "--ground-truth", Cli.Superposition, "--methods", "sae.topk,pca",
            "--set", "sae.topk.k=4", "--set", "sae.topk.d_sae=64", "--set", "pca.components=8", "--steps", "40", "--batch-size", "256", "--out", dir);
        return Path.Combine(dir, "report.html");
    }

    /// <summary>The tiny GPT-2 fixture has its own 96-token vocabulary: no known tokenizer, so tokens show as ids.</summary>
    string MakeNoTokenizer()
    {
        var gpt2 = Path.Combine(Repo.Root, "tests", "Fixtures", "gpt2-tiny");
        var tokens = Path.Combine(gpt2, "tokens.jsonl");
        var acts = _temp.File("gpt2-acts.safetensors");
        Cli.Ok("harvest", "--model", gpt2, "--tokens", tokens, "--sites", "blocks.1.hook_resid_post", "--out", acts);
        var sae = _temp.File("gpt2-pca");
        Cli.Ok("decompose", "--activations", acts, "--site", "blocks.1.hook_resid_post", "--method", "pca", "--set", "components=8", "--out", sae);
        return Report("no-tokenizer.html", "--decomposition", sae, "--model", gpt2, "--tokens", tokens, "--features", "0-3");
    }

    public const string HostileToken = "</script><script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">";
    public const string HostileSummary = "<b>bold?</b> & <i>not markup</i>";

    string MakeHostile()
    {
        var examples = new[] { Explanation(0, HostileSummary, [5, 6, 7], [0.1, 2.0, 0.5], 1, 2.0) };
        var dashboard = FeatureDashboards.FromExplanations([0], examples, null, id => id == 6 ? HostileToken : $"tok{id}") with
        {
            Title = "hostile <script>alert(1)</script>", Rows = 100, DSae = 1, Gaps = ["gap with <em>markup</em>"],
        };
        var path = _temp.File("hostile.html");
        File.WriteAllText(path, DashboardPage.Render(dashboard, "test"));
        return path;
    }

    /// <summary>1,000 features, each with 10 top examples and 5 bands of 3 samples over 12-token windows (as top-examples writes by default).</summary>
    string MakeLarge()
    {
        var path = _temp.File("large.html");
        File.WriteAllText(path, DashboardPage.Render(LargeDashboard(1000, id => $"tok{id}"), "test"));
        return path;
    }

    public static FeatureDashboard LargeDashboard(int features, Func<long, string> tokenText)
    {
        var rng = new Random(7);
        var examples = Enumerable.Range(0, features).Select(f =>
        {
            double frequency = Math.Pow(10, -4 * rng.NextDouble());
            return Explanation(f, $"feature {f} fires on {frequency:P3} of rows", Enumerable.Range(0, 12).Select(_ => (long)rng.Next(50257)).ToArray(),
                Enumerable.Range(0, 12).Select(_ => rng.NextDouble() * 3).ToArray(), 8, 3, frequency, topK: 10, quantiles: 5, samples: 3);
        }).ToList();
        return FeatureDashboards.FromExplanations(Enumerable.Range(0, features).ToList(), examples, null, tokenText) with { Title = "1,000 features", Rows = 1_000_000, DSae = features };
    }

    /// <summary>A top-examples record as the interpreter writes it (every example the same window, for size and rendering tests).</summary>
    static FeatureExplanation Explanation(int feature, string summary, long[] tokens, double[] acts, int focus, double max,
        double frequency = 0.25, int topK = 1, int quantiles = 1, int samples = 1)
    {
        JsonObject Example(int row) => new()
        {
            ["row"] = row, ["activation"] = acts[focus], ["sequence"] = row / tokens.Length, ["position"] = focus, ["focus"] = focus,
            ["tokens"] = new JsonArray(tokens.Select(t => (JsonNode)t).ToArray()),
            ["activations"] = new JsonArray(acts.Select(a => (JsonNode)Math.Round(a, 6)).ToArray()),
        };
        var details = new JsonObject
        {
            ["rows"] = 100, ["active_count"] = (long)(frequency * 100), ["frequency"] = frequency, ["max_activation"] = max, ["mean_active_activation"] = max / 2,
            ["histogram"] = new JsonObject { ["range"] = new JsonArray(0, max), ["counts"] = new JsonArray(Enumerable.Range(0, 32).Select(b => (JsonNode)(32 - b)).ToArray()) },
            ["top"] = new JsonArray(Enumerable.Range(0, topK).Select(i => (JsonNode)Example(i)).ToArray()),
            ["quantiles"] = new JsonArray(Enumerable.Range(0, quantiles).Select(q => (JsonNode)new JsonObject
            {
                ["quantile"] = q, ["range"] = new JsonArray(q * max / quantiles, (q + 1) * max / quantiles), ["count"] = 10,
                ["samples"] = new JsonArray(Enumerable.Range(0, samples).Select(i => (JsonNode)Example(100 + i)).ToArray()),
            }).ToArray()),
        };
        return new FeatureExplanation(feature, summary, details);
    }

    public void Dispose() => _temp.Dispose();
}
