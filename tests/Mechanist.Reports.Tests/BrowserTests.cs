using System.Globalization;
using Microsoft.Playwright;

namespace Mechanist.Reports.Tests;

/// <summary>
/// The reports in a real headless Chromium: each loads with no console error and no request but its own file, the
/// index searches and sorts, cards show examples with highlighted tokens, a finding's link reaches its feature's
/// card, hostile token text stays text. Screenshots go to TestResults/screenshots/.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class BrowserTests(BrowserFixture browser, ReportFiles files) : IClassFixture<ReportFiles>
{
    static async Task<int[]> VisibleFeatures(IPage page, string scope = "") =>
        (await page.Locator($"{scope} tr.feature-row:not([hidden])").EvaluateAllAsync<string[]>("rows => rows.map(r => r.getAttribute('data-feature'))"))
            .Select(int.Parse).ToArray();

    static async Task Search(IPage page, string text)
    {
        await page.FillAsync("input.search", text);
        await page.WaitForFunctionAsync($"() => document.querySelector('input.search').value === {System.Text.Json.JsonSerializer.Serialize(text)}");
    }

    [BrowserFact]
    public async Task Dashboard_loads_offline_and_its_index_searches_and_sorts()
    {
        await using var opened = await OpenedPage.Open(browser.Browser, files.Dashboard);
        var page = opened.Page;
        await opened.Screenshot("dashboard");
        opened.AssertCleanAndOffline();

        Assert.Equal(64, await page.Locator("tr.feature-row").CountAsync());
        Assert.Equal("Feature dashboard: resid", await page.TitleAsync());

        await Search(page, "12");
        Assert.Equal(new[] { 12 }, await VisibleFeatures(page));
        await Search(page, "1");
        Assert.Equal(Enumerable.Range(0, 64).Where(i => i.ToString(CultureInfo.InvariantCulture).StartsWith('1')).Order(), (await VisibleFeatures(page)).Order());
        await Search(page, "3-5, 40");
        Assert.Equal([3, 4, 5, 40], (await VisibleFeatures(page)).Order());
        Assert.Contains("4 of 64 features shown", await page.TextContentAsync(".toolbar .count"));
        await Search(page, "");
        Assert.Equal(64, (await VisibleFeatures(page)).Length);

        await page.SelectOptionAsync("select.sort", "max");
        var max = await page.Locator("tr.feature-row td:nth-child(4)").AllTextContentsAsync();
        var values = max.Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(values.OrderByDescending(v => v), values);
        await page.SelectOptionAsync("select.sort", "density");
        var dens = await page.Locator("tr.feature-row td:nth-child(3)").AllTextContentsAsync();
        Assert.Equal("dead", dens[0]); // sparsest first: the features that never fired
        await page.SelectOptionAsync("select.sort", "frequency");
        var freq = (await page.Locator("tr.feature-row td:nth-child(2)").AllTextContentsAsync()).Select(v => double.Parse(v.TrimEnd('%'), CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(freq.OrderByDescending(v => v), freq);
    }

    [BrowserFact]
    public async Task A_card_shows_top_examples_with_highlighted_tokens_quantile_bands_and_output_effects()
    {
        await using var opened = await OpenedPage.Open(browser.Browser, files.Dashboard);
        var page = opened.Page;
        await page.ClickAsync("tr.feature-row[data-feature='39']");
        await page.WaitForSelectorAsync("article#feature-39");
        Assert.Equal("#feature-39", new Uri(page.Url).Fragment);
        var card = page.Locator("article#feature-39");
        Assert.Equal("feature 39", await card.Locator("h2").TextContentAsync());
        await Assertions.Expect(card.Locator("svg.histogram")).ToBeVisibleAsync();

        var top = card.Locator("section.card-section", new() { HasText = "Top activations" }).Locator(".example");
        Assert.Equal(10, await top.CountAsync());
        // Each example is its context window: the tokens' text from the model's tokenizer (numbers and '='), the
        // example's own token outlined, every token that the feature fires on shaded by its activation.
        var tokens = await top.First.Locator(".tok").AllTextContentsAsync();
        Assert.Equal(3, tokens.Count);
        Assert.Equal("=", tokens[2]);
        Assert.Equal("=", await top.First.Locator(".tok.focus").TextContentAsync());
        var shaded = await card.Locator(".tok").EvaluateAllAsync<int>("spans => spans.filter(s => s.style.backgroundColor.startsWith('rgba(255, 120, 0')).length");
        Assert.True(shaded >= 10, $"{shaded} highlighted tokens");
        var title = await top.First.Locator(".tok.focus").GetAttributeAsync("title");
        Assert.Matches("^token \"=\" \\(id 113\\): activation [0-9.]+$", title!);

        Assert.Equal(5, await card.Locator(".band").CountAsync());
        Assert.Equal(10, await card.Locator(".effects.up tr").CountAsync());
        Assert.Equal(10, await card.Locator(".effects.down tr").CountAsync());
        await card.ScrollIntoViewIfNeededAsync();
        await opened.Screenshot("dashboard-card", fullPage: true);
        opened.AssertCleanAndOffline();
    }

    [BrowserFact]
    public async Task Hostile_token_text_renders_as_text_and_runs_nothing()
    {
        var html = File.ReadAllText(files.Hostile);
        Assert.DoesNotContain("<script>window.__pwned", html);
        Assert.DoesNotContain("<img src=x", html);
        Assert.DoesNotContain("<b>bold?</b>", html);

        await using var opened = await OpenedPage.Open(browser.Browser, files.Hostile, "#feature-0");
        var page = opened.Page;
        opened.AssertCleanAndOffline();
        Assert.Null(await page.EvaluateAsync<int?>("() => window.__pwned ?? null"));
        Assert.Equal(0, await page.Locator("img").CountAsync());
        var tokens = await page.Locator("article#feature-0 .example .tok").AllTextContentsAsync();
        Assert.Contains(ReportFiles.HostileToken, tokens);
        Assert.Equal(ReportFiles.HostileSummary, await page.Locator("article#feature-0 p.summary").TextContentAsync());
        Assert.Contains("gap with <em>markup</em>", await page.TextContentAsync(".gaps"));
        Assert.Equal("hostile <script>alert(1)</script>", (await page.TextContentAsync("h1"))!.Replace("Feature dashboard: ", ""));
        await opened.Screenshot("dashboard-hostile");
    }

    [BrowserFact]
    public async Task A_dashboard_without_tokenizer_or_activations_renders_and_states_the_gaps()
    {
        await using (var opened = await OpenedPage.Open(browser.Browser, files.NoTokenizer))
        {
            opened.AssertCleanAndOffline();
            Assert.Contains("no known tokenizer: tokens are shown by id", await opened.Page.TextContentAsync(".gaps"));
            Assert.Equal(4, await opened.Page.Locator("tr.feature-row").CountAsync());
            var tokens = await opened.Page.Locator("article.card .example .tok").AllTextContentsAsync();
            Assert.NotEmpty(tokens);
            Assert.All(tokens, t => Assert.Matches("^#[0-9]+$", t));
            await opened.Screenshot("dashboard-no-tokenizer");
        }
        await using (var opened = await OpenedPage.Open(browser.Browser, files.NoActivations))
        {
            opened.AssertCleanAndOffline();
            var gaps = await opened.Page.TextContentAsync(".gaps");
            Assert.Contains("No activations: no firing statistics, histograms or examples", gaps);
            Assert.Contains("No model: no output effects", gaps);
            Assert.Contains("No check results", gaps);
            Assert.Equal(64, await opened.Page.Locator("tr.feature-row").CountAsync());
            await Assertions.Expect(opened.Page.Locator("article#feature-0 h2")).ToHaveTextAsync("feature 0");
            Assert.Equal(0, await opened.Page.Locator("article.card .example").CountAsync());
            await opened.Screenshot("dashboard-no-activations");
        }
    }

    [BrowserFact]
    public async Task Check_report_groups_findings_links_their_docs_and_reaches_the_feature_cards()
    {
        await using var opened = await OpenedPage.Open(browser.Browser, files.Check);
        var page = opened.Page;
        await opened.Screenshot("check-report");
        opened.AssertCleanAndOffline();
        Assert.StartsWith("Check mechanist.json: failed", await page.TextContentAsync("h1"));

        Assert.Equal(["errors", "warnings"], await page.Locator("section.severity").EvaluateAllAsync<string[]>("s => s.map(x => x.id)"));
        var errors = page.Locator("section#errors section.check");
        Assert.Equal(1, await errors.CountAsync());
        Assert.EndsWith("docs/checks/MECH1001.md", await errors.Locator("h3 a.check-id").GetAttributeAsync("href"));
        var warningChecks = await page.Locator("section#warnings section.check h3 a.check-id").AllTextContentsAsync();
        Assert.Equal(["MECH1004", "MECH4001"], warningChecks);
        foreach (var link in await page.Locator("a.check-id").EvaluateAllAsync<string[]>("a => a.map(x => x.href)"))
        {
            Assert.Matches("docs/checks/MECH[0-9]{4}\\.md$", link);
            Assert.True(File.Exists(new Uri(link).LocalPath), $"{link} does not exist");
        }

        var featureLinks = page.Locator("a.feature-link");
        Assert.True(await featureLinks.CountAsync() >= 1, "no finding links to a feature card");
        var first = featureLinks.First;
        var feature = int.Parse((await first.TextContentAsync())!.Replace("feature ", ""), CultureInfo.InvariantCulture);
        await first.ClickAsync();
        var card = page.Locator($"article#feature-resid-{feature}");
        await Assertions.Expect(card).ToBeInViewportAsync();
        Assert.Equal($"resid · feature {feature}", await card.Locator("h2").TextContentAsync());
        Assert.Contains("MECH4001", await card.Locator("ul.findings").TextContentAsync());
        Assert.True(await card.Locator(".example").CountAsync() > 0);
        Assert.Contains("trained during the check and not saved", await page.TextContentAsync(".gaps"));
        await opened.Screenshot("check-report-feature-card");
        opened.AssertCleanAndOffline();
    }

    [BrowserFact]
    public async Task Compare_report_shows_the_metrics_and_every_figure()
    {
        await using var opened = await OpenedPage.Open(browser.Browser, files.Compare, width: 1400, height: 1000);
        var page = opened.Page;
        opened.AssertCleanAndOffline();
        Assert.Equal(2, await page.Locator("table.metrics tbody tr").CountAsync());
        var figures = await page.Locator("figure.plot").EvaluateAllAsync<string[]>("f => f.map(x => x.id)");
        Assert.Equal(["plot-pareto", "plot-pareto-mmcs", "plot-training", "plot-density"], figures);
        var text = await page.Locator("figure#plot-pareto svg").TextContentAsync();
        Assert.Contains("L0 vs FVU", text);
        foreach (var name in new[] { "pareto", "pareto-mmcs", "training", "density" })
        {
            Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(files.Compare)!, name + ".png")), name);
            Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(files.Compare)!, name + ".svg")), name);
        }
        await opened.Screenshot("compare-report", fullPage: true);
    }

    [BrowserFact]
    public async Task A_thousand_feature_dashboard_loads_and_searches()
    {
        await using var opened = await OpenedPage.Open(browser.Browser, files.Large);
        var page = opened.Page;
        opened.AssertCleanAndOffline();
        Assert.Equal(1000, await page.Locator("tr.feature-row").CountAsync());
        await Search(page, "999");
        Assert.Equal(new[] { 999 }, await VisibleFeatures(page));
        await page.ClickAsync("tr.feature-row[data-feature='999']");
        var card = page.Locator("article#feature-999");
        Assert.Equal(10, await card.Locator("section.card-section", new() { HasText = "Top activations" }).Locator(".example").CountAsync());
        Assert.Equal(12, await card.Locator(".example").First.Locator(".tok").CountAsync());
    }
}
