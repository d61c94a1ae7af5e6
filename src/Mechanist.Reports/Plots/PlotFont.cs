using ScottPlot;
using SkiaSharp;

namespace Mechanist.Reports.Plots;

/// <summary>
/// The typeface every plot draws its text with: DejaVu Sans (regular and bold), embedded in this assembly
/// (<c>Fonts/</c>, licence beside it). Skia's self-contained Linux natives find no fonts on a machine without any, and
/// would draw no text at all; the embedded faces make plots read the same on every machine.
/// </summary>
public static class PlotFont
{
    /// <summary>The family name plots ask for (and SVG files name).</summary>
    public const string Family = "DejaVu Sans";

    static readonly Lazy<EmbeddedFontResolver> Resolver = new(Register, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Registers the embedded faces with ScottPlot, ahead of its system-font resolver (once per process).</summary>
    public static void EnsureRegistered() => _ = Resolver.Value;

    /// <summary>The embedded face for <paramref name="bold"/> text.</summary>
    public static SKTypeface Typeface(bool bold = false) => bold ? Resolver.Value.Bold : Resolver.Value.Regular;

    static EmbeddedFontResolver Register()
    {
        var resolver = new EmbeddedFontResolver(Load("DejaVuSans.ttf"), Load("DejaVuSans-Bold.ttf"));
        Fonts.FontResolvers.Insert(0, resolver);
        Fonts.Default = Family;
        return resolver;
    }

    static SKTypeface Load(string file)
    {
        var name = $"Mechanist.Reports.Fonts.{file}";
        using var stream = typeof(PlotFont).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"embedded font {name} is missing from {typeof(PlotFont).Assembly.GetName().Name}");
        using var data = SKData.Create(stream);
        return SKTypeface.FromData(data) ?? throw new InvalidOperationException($"embedded font {name} could not be read by Skia");
    }

    /// <summary>Answers ScottPlot's requests for <see cref="Family"/> (any style; bold when asked) with the embedded faces.</summary>
    sealed class EmbeddedFontResolver(SKTypeface regular, SKTypeface bold) : IFontResolver
    {
        public SKTypeface Regular { get; } = regular;
        public SKTypeface Bold { get; } = bold;

        public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) =>
            string.Equals(fontName, Family, StringComparison.OrdinalIgnoreCase) ? (bold ? Bold : Regular) : null;

        public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing width) =>
            CreateTypeface(fontName, weight >= FontWeight.SemiBold, slant != FontSlant.Upright);
    }
}
