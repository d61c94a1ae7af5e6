using Microsoft.Playwright;

namespace Mechanist.Reports.Tests;

/// <summary>
/// Debian's Chromium, found on this machine: <c>MECHANIST_CHROMIUM</c>, else the package's binary. CI installs the
/// package (.ci/run); without it the browser tests are skipped with that reason, except under CI (<c>CI=true</c>),
/// where a missing browser fails them.
/// </summary>
static class Chromium
{
    public static readonly string? Path = Find();

    static string? Find()
    {
        var candidates = new[] { Environment.GetEnvironmentVariable("MECHANIST_CHROMIUM"), "/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser" };
        return candidates.FirstOrDefault(p => !string.IsNullOrEmpty(p) && File.Exists(p));
    }

    public static bool Required => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public const string Missing = "Chromium not found (apt-get install chromium, or set MECHANIST_CHROMIUM); .ci/run installs it";
}

/// <summary>A test that needs the browser: skipped with the reason when Chromium is missing outside CI.</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (Chromium.Path is null && !Chromium.Required) Skip = Chromium.Missing;
    }
}

/// <summary>One headless Chromium shared by every browser test (started once: about a second).</summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Where screenshots are kept: <c>TestResults/screenshots/</c> at the repository root.</summary>
    public static string Screenshots { get; } = Directory.CreateDirectory(
        System.IO.Path.Combine(Mechanist.Testing.Repo.Root, "TestResults", "screenshots")).FullName;

    public async Task InitializeAsync()
    {
        if (Chromium.Path is null)
        {
            if (Chromium.Required) throw new InvalidOperationException(Chromium.Missing);
            return; // every browser test is skipped (BrowserFact)
        }
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium.Path, Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
    }

    public async Task DisposeAsync()
    {
        if (_playwright is not null) await Browser.CloseAsync();
        _playwright?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "browser";
}

/// <summary>
/// A report opened in a fresh page, with everything the page did recorded: console errors, uncaught exceptions and
/// every request it made (a self-contained report makes none but its own file).
/// </summary>
public sealed class OpenedPage : IAsyncDisposable
{
    readonly IBrowserContext _context;

    OpenedPage(IBrowserContext context, IPage page, string url)
    {
        _context = context;
        Page = page;
        Url = url;
    }

    public IPage Page { get; }
    public string Url { get; }
    public List<string> ConsoleErrors { get; } = [];
    public List<string> Requests { get; } = [];

    public static async Task<OpenedPage> Open(IBrowser browser, string file, string fragment = "", int width = 1400, int height = 1000)
    {
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        var page = await context.NewPageAsync();
        var url = new Uri(System.IO.Path.GetFullPath(file)).AbsoluteUri;
        var opened = new OpenedPage(context, page, url);
        page.Console += (_, m) => { if (m.Type == "error") opened.ConsoleErrors.Add(m.Text); };
        page.PageError += (_, e) => opened.ConsoleErrors.Add("uncaught: " + e);
        page.Request += (_, r) => opened.Requests.Add(r.Url);
        await page.GotoAsync(url + fragment, new PageGotoOptions { WaitUntil = WaitUntilState.Load });
        await page.WaitForSelectorAsync("html[data-ready=true]", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached, Timeout = 10_000 });
        return opened;
    }

    /// <summary>The page loaded without a console error and fetched nothing but its own file.</summary>
    public void AssertCleanAndOffline()
    {
        Assert.True(ConsoleErrors.Count == 0, "console errors: " + string.Join(" | ", ConsoleErrors));
        var others = Requests.Where(r => r.Split('#')[0] != Url).ToList();
        Assert.True(others.Count == 0, "requests besides the page itself: " + string.Join(", ", others));
    }

    public async Task<string> Screenshot(string name, bool fullPage = false)
    {
        var path = System.IO.Path.Combine(BrowserFixture.Screenshots, name + ".png");
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = fullPage });
        return path;
    }

    public async ValueTask DisposeAsync() => await _context.CloseAsync();
}
