using System.Buffers.Binary;

namespace Mechanist.Fuzzing;

/// <summary>
/// Several files in one fuzz input: every file but the last is a 4-byte little-endian length and that many bytes;
/// the last file is the rest. A length past the end is cut at the end, so every byte string unpacks (a fuzzer's
/// mutations never make an input unusable, only a file short or empty). A target with one file takes the bytes as
/// they are.
/// </summary>
public static class FileBundle
{
    public static byte[] Pack(IReadOnlyList<byte[]> files)
    {
        if (files.Count == 1) return files[0];
        using var stream = new MemoryStream();
        Span<byte> length = stackalloc byte[4];
        for (int i = 0; i < files.Count; i++)
        {
            if (i < files.Count - 1)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)files[i].Length);
                stream.Write(length);
            }
            stream.Write(files[i]);
        }
        return stream.ToArray();
    }

    public static IReadOnlyList<ReadOnlyMemory<byte>> Unpack(ReadOnlyMemory<byte> input, int count)
    {
        if (count == 1) return [input];
        var files = new List<ReadOnlyMemory<byte>>(count);
        int at = 0;
        for (int i = 0; i < count - 1; i++)
        {
            int left = input.Length - at;
            if (left < 4)
            {
                files.Add(input.Slice(at, left));
                at = input.Length;
                continue;
            }
            long declared = BinaryPrimitives.ReadUInt32LittleEndian(input.Span.Slice(at, 4));
            at += 4;
            int take = (int)Math.Min(declared, input.Length - at);
            files.Add(input.Slice(at, take));
            at += take;
        }
        files.Add(input[at..]);
        return files;
    }
}
