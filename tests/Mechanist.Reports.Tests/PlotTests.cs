using System.Diagnostics;
using System.Xml.Linq;
using Mechanist.Reports.Plots;
using Mechanist.Testing;

namespace Mechanist.Reports.Tests;

/// <summary>
/// Every plot kind, made by its command and read back: the PNG decoded (size, not blank, text in the title band) and
/// the SVG parsed (its text elements hold the title). NaN in the data is named, never drawn.
/// </summary>
public class PlotTests
{
    static void AssertPicture(string png, int width, int height)
    {
        using var bitmap = PlotAssert.Png(png, width, height);
        PlotAssert.NotBlank(bitmap);
        PlotAssert.TextIn(bitmap, 0, 30, "title band");
        PlotAssert.TextIn(bitmap, height - 28, height, "x-axis label band");
    }

    static string SvgText(string svg)
    {
        var doc = XDocument.Parse(File.ReadAllText(svg));
        return string.Join(" ", doc.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value));
    }

    [Fact]
    public void Grokking_curves_of_the_shipped_run_render_with_text_as_png_and_svg()
    {
        using var temp = new TempDir();
        Cli.Ok("plot", "grokking", Cli.Model, "--out", temp.File("grok.png"));
        AssertPicture(temp.File("grok.png"), 1080, 420);
        Cli.Ok("plot", "grokking", Cli.Model, "--out", temp.File("grok.svg"));
        var text = SvgText(temp.File("grok.svg"));
        foreach (var word in new[] { "accuracy", "cross-entropy", "epoch", "held-out", "6250" }) Assert.Contains(word, text);
    }

    [Fact]
    public void Density_histogram_of_the_shipped_sae_counts_every_feature()
    {
        using var temp = new TempDir();
        var r = Cli.Ok("plot", "density", "--decomposition", Cli.Sae, "--activations", Cli.Activations, "--out", temp.File("d.svg"));
        Assert.Contains("720×480", r.Out);
        var text = SvgText(temp.File("d.svg"));
        Assert.Contains("64 features", text);
        Assert.Contains("MECH1004", text);
        Cli.Ok("plot", "density", "--decomposition", Cli.Sae, "--activations", Cli.Activations, "--out", temp.File("d.png"));
        AssertPicture(temp.File("d.png"), 720, 480);
    }

    [Fact]
    public void Pareto_attribution_and_training_plots_from_the_commands_outputs()
    {
        using var temp = new TempDir();
        var attr = temp.File("attr.json");
        Cli.Ok("attribute", "--model", Cli.Model, "--method", "layer-integrated-gradients", "--site", "hook_embed", "--tokens", "55,96,113",
            "--target", "38", "--out", attr);
        Cli.Ok("plot", "attribution", attr, "--out", temp.File("attr.png"));
        using (var bitmap = PlotAssert.Png(temp.File("attr.png"), 720, 320))
        {
            PlotAssert.NotBlank(bitmap);
            PlotAssert.TextIn(bitmap, 0, 30, "title band");
            PlotAssert.TextIn(bitmap, 40, 280, "bar labels");
        }
        Cli.Ok("plot", "attribution", attr, "--out", temp.File("attr.svg"));
        var labels = SvgText(temp.File("attr.svg"));
        foreach (var label in new[] { "pos 0 '55'", "pos 1 '96'", "pos 2 '='", "logit of 38" }) Assert.Contains(label, labels);

        var sae = temp.File("sae");
        Cli.Ok("decompose", "--activations", Cli.Superposition, "--method", "sae.topk", "--set", "k=4", "--set", "d_sae=64", "--set", "steps=60",
            "--set", "batch_size=256", "--out", sae);
        var log = RunLog.Read(sae);
        Assert.Equal("step", log.XName);
        Assert.Equal(60, log.Rows[^1].X);
        foreach (var m in TrainingCurves.Preferred) Assert.Contains(m, log.Metrics);
        Cli.Ok("plot", "training", sae, "--out", temp.File("train.png"));
        AssertPicture(temp.File("train.png"), 960, 640);

        Cli.Ok("plot", "pareto", Path.Combine(sae, "metrics.json"), "--out", temp.File("p.svg"));
        Assert.Contains("sae.topk", SvgText(temp.File("p.svg")));
    }

    [Fact]
    public void Text_check_fails_on_a_picture_without_text()
    {
        // The same layout as a real plot (room kept for a title and an axis label), but the text is blank.
        var plot = Figure.NewPanel();
        plot.Add.Scatter(new double[] { 0, 1, 2 }, new double[] { 1, 3, 2 });
        Figure.Title(plot, "                    ");
        plot.XLabel("                    ");
        plot.Axes.Bottom.TickLabelStyle.IsVisible = false;
        plot.Axes.Left.TickLabelStyle.IsVisible = false;
        using var bitmap = PlotAssert.Decode(Figure.Single(plot, 400, 300).Png());
        Assert.True(PlotAssert.InkFraction(bitmap) > 0.005); // the frame and the line are there
        Assert.ThrowsAny<Exception>(() => PlotAssert.TextIn(bitmap, 0, 30, "title band"));
        Assert.ThrowsAny<Exception>(() => PlotAssert.TextIn(bitmap, 270, 300, "x-axis label band"));
    }

    [Fact]
    public void Plots_draw_with_the_embedded_font_whatever_the_machine_has()
    {
        PlotFont.EnsureRegistered();
        Assert.Equal(PlotFont.Family, PlotFont.Typeface().FamilyName);
        Assert.Same(PlotFont.Typeface(), ScottPlot.Fonts.GetTypeface(PlotFont.Family, bold: false, italic: false));
        Assert.Same(PlotFont.Typeface(bold: true), ScottPlot.Fonts.GetTypeface(PlotFont.Family, bold: true, italic: false));
        Assert.True(PlotFont.Typeface(bold: true).FontWeight >= 700);
    }

    /// <summary>
    /// A machine with no fonts at all: the real command in a mount namespace where /usr/share/fonts (where Skia's
    /// self-contained natives look) is empty. Needs root and unshare(1), which CI has.
    /// </summary>
    [Fact]
    public async Task A_plot_made_on_a_machine_without_fonts_still_has_its_text()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root" || !File.Exists("/usr/bin/unshare"))
        {
            Assert.False(string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase),
                "CI runs as root with unshare: this test must run there");
            return;
        }
        using var temp = new TempDir();
        var empty = Directory.CreateDirectory(temp.File("no-fonts")).FullName;
        var png = temp.File("pareto.png");
        var mechanist = Path.Combine(AppContext.BaseDirectory, "mechanist.dll");
        var script = $"mount --bind '{empty}' /usr/share/fonts && ls -A /usr/share/fonts | wc -l && dotnet '{mechanist}' plot grokking '{Cli.Model}' --out '{png}'";
        var info = new ProcessStartInfo("unshare", ["-m", "sh", "-c", script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(info)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await p.WaitForExitAsync(timeout.Token);
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {await output} {await error}");
        Assert.StartsWith("0\n", await output); // the namespace really had no fonts
        AssertPicture(png, 1080, 420);
    }

    [Fact]
    public void A_run_with_NaN_names_the_metric_and_step_and_writes_no_picture()
    {
        using var temp = new TempDir();
        var run = Directory.CreateDirectory(temp.File("run")).FullName;
        File.WriteAllText(Path.Combine(run, "training_log.jsonl"),
            "{\"step\":10,\"loss\":1.5,\"fvu\":0.5,\"l0\":8,\"dead_fraction\":0}\n" +
            "{\"step\":20,\"loss\":\"NaN\",\"fvu\":0.4,\"l0\":8,\"dead_fraction\":0}\n" +
            "{\"step\":30,\"loss\":1.1,\"fvu\":0.3,\"l0\":8,\"dead_fraction\":0}\n");
        var png = temp.File("t.png");
        Cli.BadInput(Cli.Run("plot", "training", run, "--out", png), png, "training_log.jsonl", "'loss' is NaN at step 20");

        var results = temp.File("results.json");
        File.WriteAllText(results, """{"methods":[{"method":"sae.relu","metrics":{"l0":3,"fvu":"NaN"}},{"method":"pca","metrics":{"l0":4,"fvu":0.2}}]}""");
        Cli.BadInput(Cli.Run("plot", "pareto", results, "--out", png), png, "fvu is NaN", "'sae.relu'");

        var ex = Assert.Throws<MechanistInputException>(() => DensityHistogram.Render([0.1, double.NaN], 100));
        Assert.Contains("feature 1", ex.Message);
    }

    [Fact]
    public void Plot_commands_reject_bad_input_with_one_line()
    {
        using var temp = new TempDir();
        var jpg = temp.File("x.jpg");
        Cli.BadInput(Cli.Run("plot", "grokking", Cli.Model, "--out", jpg), jpg, "--out", ".png or .svg");
        var png = temp.File("x.png");
        Cli.BadInput(Cli.Run("plot", "training", temp.File("missing"), "--out", png), png, "missing", "not found");
        Cli.BadInput(Cli.Run("plot", "grokking", Cli.Sae, "--out", png), png, "no training_log.jsonl");
        Cli.BadInput(Cli.Run("plot", "training", Cli.Model, "--metrics", "fvu", "--out", png), png, "no log has the metric 'fvu'", "'train_loss'");
        Cli.BadInput(Cli.Run("plot", "pareto", Path.Combine(Cli.Sample, "mechanist.json"), "--y", "ce_loss_score", "--out", png), png, "no metric");
        Cli.BadInput(Cli.Run("plot", "attribution", Path.Combine(Cli.Sample, "mechanist.json"), "--out", png), png, "no 'scores'");
    }
}
