using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Mechanist.Cli.Reports;

/// <summary>
/// An RGBA raster with a few drawing primitives and a PNG encoder (signature, IHDR, one zlib-compressed IDAT of
/// unfiltered scanlines, IEND; every chunk with its CRC-32), written with the base class library only.
/// </summary>
public sealed class PngImage
{
    readonly byte[] _pixels;

    public PngImage(int width, int height, uint background = 0xFFFFFFFF)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        Width = width;
        Height = height;
        _pixels = new byte[width * height * 4];
        for (int i = 0; i < width * height; i++) SetIndex(i, background);
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>The pixel at (x, y) as 0xRRGGBBAA.</summary>
    public uint this[int x, int y]
    {
        get
        {
            int i = (y * Width + x) * 4;
            return (uint)(_pixels[i] << 24 | _pixels[i + 1] << 16 | _pixels[i + 2] << 8 | _pixels[i + 3]);
        }
    }

    void SetIndex(int index, uint rgba)
    {
        int i = index * 4;
        _pixels[i] = (byte)(rgba >> 24);
        _pixels[i + 1] = (byte)(rgba >> 16);
        _pixels[i + 2] = (byte)(rgba >> 8);
        _pixels[i + 3] = (byte)rgba;
    }

    /// <summary>Sets a pixel; coordinates outside the image are ignored.</summary>
    public void Set(int x, int y, uint rgba)
    {
        if (x < 0 || y < 0 || x >= Width || y >= Height) return;
        SetIndex(y * Width + x, rgba);
    }

    public void FillRectangle(int x, int y, int w, int h, uint rgba)
    {
        for (int j = y; j < y + h; j++)
            for (int i = x; i < x + w; i++) Set(i, j, rgba);
    }

    /// <summary>A line by Bresenham's algorithm.</summary>
    public void Line(int x0, int y0, int x1, int y1, uint rgba)
    {
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0);
        int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
        while (true)
        {
            Set(x0, y0, rgba);
            if (x0 == x1 && y0 == y1) break;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x0 += sx; }
            if (e2 <= dx) { err += dx; y0 += sy; }
        }
    }

    public void FillCircle(int cx, int cy, int radius, uint rgba)
    {
        for (int y = -radius; y <= radius; y++)
            for (int x = -radius; x <= radius; x++)
                if (x * x + y * y <= radius * radius) Set(cx + x, cy + y, rgba);
    }

    /// <summary>Text in a 5×7 pixel font (scaled by <paramref name="scale"/>), top-left at (x, y). Unknown characters draw as a box.</summary>
    public void Text(int x, int y, string text, uint rgba, int scale = 1)
    {
        foreach (var c in text)
        {
            var rows = TinyFont.Glyph(c);
            for (int r = 0; r < 7; r++)
                for (int col = 0; col < 5; col++)
                    if ((rows[r] >> (4 - col) & 1) == 1)
                        FillRectangle(x + col * scale, y + r * scale, scale, scale, rgba);
            x += 6 * scale;
        }
    }

    public static int TextWidth(string text, int scale = 1) => text.Length * 6 * scale;

    /// <summary>The PNG file's bytes: 8-bit RGBA, no interlace, filter type 0 on every scanline.</summary>
    public byte[] EncodePng()
    {
        using var output = new MemoryStream();
        output.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(0), Width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), Height);
        header[8] = 8; // bit depth
        header[9] = 6; // colour type RGBA
        WriteChunk(output, "IHDR", header);
        using (var raw = new MemoryStream())
        {
            using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
                for (int y = 0; y < Height; y++)
                {
                    z.WriteByte(0);
                    z.Write(_pixels, y * Width * 4, Width * 4);
                }
            WriteChunk(output, "IDAT", raw.ToArray());
        }
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    static void WriteChunk(Stream output, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        output.Write(length);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        output.Write(typeBytes);
        output.Write(data);
        uint crc = Crc32.Compute(Crc32.Compute(0, typeBytes), data);
        Span<byte> crcBytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crcBytes, crc);
        output.Write(crcBytes);
    }
}

/// <summary>CRC-32 (ISO 3309, polynomial 0xEDB88320 reflected), as PNG chunks use it.</summary>
public static class Crc32
{
    static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>Continues the CRC <paramref name="crc"/> (0 to start) over <paramref name="data"/>.</summary>
    public static uint Compute(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = crc ^ 0xFFFFFFFFu;
        foreach (var b in data) c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}
