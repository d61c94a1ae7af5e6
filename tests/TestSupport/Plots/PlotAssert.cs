using SkiaSharp;

namespace Mechanist.Testing;

/// <summary>
/// Checks on a rendered plot, read back by decoding the PNG with Skia: its size, that it is not blank, and that text
/// was drawn where a plot has nothing but text (the title band above the data area).
/// </summary>
public static class PlotAssert
{
    public static SKBitmap Decode(byte[] png)
    {
        Assert.True(png.Length > 8 && png[0] == 0x89 && png[1] == (byte)'P' && png[2] == (byte)'N' && png[3] == (byte)'G', "not a PNG file");
        return SKBitmap.Decode(png) ?? throw new Xunit.Sdk.XunitException("the PNG does not decode");
    }

    public static SKBitmap Png(string path, int width, int height)
    {
        var bitmap = Decode(File.ReadAllBytes(path));
        Assert.Equal((width, height), (bitmap.Width, bitmap.Height));
        return bitmap;
    }

    /// <summary>Fraction of pixels in the rectangle that are not (near) white.</summary>
    public static double InkFraction(SKBitmap bitmap, SKRectI? region = null)
    {
        var r = region ?? new SKRectI(0, 0, bitmap.Width, bitmap.Height);
        long ink = 0, total = 0;
        for (int y = r.Top; y < r.Bottom; y++)
            for (int x = r.Left; x < r.Right; x++)
            {
                var c = bitmap.GetPixel(x, y);
                total++;
                if (c.Red < 200 || c.Green < 200 || c.Blue < 200) ink++;
            }
        return total == 0 ? 0 : (double)ink / total;
    }

    /// <summary>The picture has drawing on it: at least 2% of pixels are not white, and not everything is one colour.</summary>
    public static void NotBlank(SKBitmap bitmap)
    {
        double ink = InkFraction(bitmap);
        Assert.True(ink > 0.02, $"the plot is blank ({ink:P2} of pixels drawn)");
        Assert.True(ink < 0.95, $"the plot is flooded ({ink:P2} of pixels drawn)");
    }

    /// <summary>
    /// Dark, glyph-like marks in the band of <paramref name="top"/>..<paramref name="bottom"/> rows where only text is
    /// drawn: enough dark pixels, spread over several separate runs along the row (letters, not one line).
    /// </summary>
    public static void TextIn(SKBitmap bitmap, int top, int bottom, string what)
    {
        long dark = 0;
        int bestRuns = 0;
        for (int y = top; y < bottom; y++)
        {
            int runs = 0;
            bool inRun = false;
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                bool isDark = c.Red + c.Green + c.Blue < 3 * 110;
                if (isDark) dark++;
                if (isDark && !inRun) runs++;
                inRun = isDark;
            }
            bestRuns = Math.Max(bestRuns, runs);
        }
        Assert.True(dark >= 40 && bestRuns >= 4, $"no text in the {what} (rows {top}–{bottom}): {dark} dark pixels, at most {bestRuns} separate marks on a row");
    }
}
