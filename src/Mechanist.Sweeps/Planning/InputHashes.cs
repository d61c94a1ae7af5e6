using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Mechanist.Sweeps.Planning;

/// <summary>
/// SHA-256 of an input's content: a file's bytes, or for a folder (an activation store, a model) every file under it
/// with its relative path, in ordinal order. Cached by path, length and write time, so a sweep hashes each input once.
/// Hashing reads the whole input once (about a second per GB from page cache).
/// </summary>
public sealed class InputHashes
{
    readonly ConcurrentDictionary<(string Path, long Length, DateTime Written), string> _cache = new();

    public string Of(string path)
    {
        if (File.Exists(path))
        {
            var info = new FileInfo(path);
            return _cache.GetOrAdd((info.FullName, info.Length, info.LastWriteTimeUtc), _ => HashFile(info.FullName));
        }
        if (Directory.Exists(path))
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var root = Path.GetFullPath(path);
            foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                         .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
                         .Where(f => !f.Split('/').Any(part => part.StartsWith('.')))
                         .Order(StringComparer.Ordinal))
            {
                sha.AppendData(Encoding.UTF8.GetBytes(file + "\n" + Of(Path.Combine(root, file)) + "\n"));
            }
            return Convert.ToHexStringLower(sha.GetHashAndReset());
        }
        throw new MechanistInputException($"{path}: not found.");
    }

    static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
