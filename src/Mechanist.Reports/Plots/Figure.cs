using Mechanist.IO;
using ScottPlot;
using SkiaSharp;

namespace Mechanist.Reports.Plots;

/// <summary>
/// One picture: one or more ScottPlot panels laid out in a grid, rendered to PNG or SVG. Panels are drawn with the
/// embedded font (<see cref="PlotFont"/>), so the text is the same on every machine.
/// </summary>
public sealed class Figure
{
    public const int DefaultWidth = 720, DefaultHeight = 480;

    /// <summary>The formats a figure is written in, by file extension.</summary>
    public static readonly string[] Extensions = [".png", ".svg"];

    Figure(IReadOnlyList<Plot> panels, int columns, int width, int height)
    {
        Panels = panels;
        Columns = columns;
        Width = width;
        Height = height;
    }

    public IReadOnlyList<Plot> Panels { get; }
    public int Columns { get; }
    public int Width { get; }
    public int Height { get; }

    /// <summary>A figure of one panel.</summary>
    public static Figure Single(Plot plot, int width = DefaultWidth, int height = DefaultHeight) => new([plot], 1, width, height);

    /// <summary>Panels in rows of <paramref name="columns"/>, each cell the same size.</summary>
    public static Figure Grid(IReadOnlyList<Plot> panels, int columns, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        if (panels.Count == 0) throw new ArgumentException("a figure needs at least one panel", nameof(panels));
        return new Figure(panels, Math.Min(columns, panels.Count), width, height);
    }

    /// <summary>A new panel in the house style: the embedded font, a white background, light grid lines.</summary>
    public static Plot NewPanel()
    {
        PlotFont.EnsureRegistered();
        var plot = new Plot();

        plot.Grid.MajorLineColor = Colors.Black.WithOpacity(0.08);
        return plot;
    }

    /// <summary>Sets a panel's title in the house style (bold, 15 px).</summary>
    public static void Title(Plot plot, string text)
    {
        plot.Title(text);
        plot.Axes.Title.Label.FontSize = 15;
        plot.Axes.Title.Label.Bold = true;
    }

    public byte[] Png()
    {
        var info = new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var surface = SKSurface.Create(info);
        Draw(surface.Canvas);
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    public string Svg()
    {
        using var memory = new MemoryStream();
        using (var stream = new SKManagedWStream(memory))
        {
            using (var canvas = SKSvgCanvas.Create(new SKRect(0, 0, Width, Height), stream))
                Draw(canvas);
            stream.Flush();
        }
        return System.Text.Encoding.UTF8.GetString(memory.ToArray());
    }

    /// <summary>Writes the figure as PNG or SVG by the path's extension, under a temporary name then renamed.</summary>
    public void Save(string path)
    {
        var extension = Path.GetExtension(path).ToLowerInvariant();
        if (!Extensions.Contains(extension))
            throw new MechanistInputException($"{path}: a plot is written as .png or .svg, got '{(extension.Length == 0 ? "no extension" : extension)}'.");
        byte[] bytes = extension == ".png" ? Png() : System.Text.Encoding.UTF8.GetBytes(Svg());
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    void Draw(SKCanvas canvas)
    {
        canvas.Clear(SKColors.White);
        int rows = (Panels.Count + Columns - 1) / Columns;
        float cellW = (float)Width / Columns, cellH = (float)Height / rows;
        for (int i = 0; i < Panels.Count; i++)
        {
            int row = i / Columns, column = i % Columns;
            var rect = new PixelRect(column * cellW, (column + 1) * cellW, (row + 1) * cellH, row * cellH);
            // A panel paints its whole background: clip it to its cell so it does not cover its neighbours.
            canvas.Save();
            canvas.ClipRect(new SKRect(rect.Left, rect.Top, rect.Right, rect.Bottom));
            Panels[i].Render(canvas, rect);
            canvas.Restore();
        }
    }
}
