using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mechanist.Sweeps.Planning;

/// <summary>
/// A job's identity: SHA-256 of a canonical JSON of everything that decides its result — the method, every option
/// value after binding (defaults included; checkpoint placement excluded), the seed, the device kind, and the content
/// hashes of the activations (with the site), targets and ground truth. Same identity, same outputs: a rerun skips
/// the job; change any input byte or option and it runs again.
/// </summary>
public static class JobIdentity
{
    /// <summary>Bumped when the meaning of a job's outputs changes, so old folders are not taken as finished.</summary>
    public const int Format = 1;

    /// <summary>Options that place checkpoints and do not change the result.</summary>
    public static bool IsRunControl(string option) => option is "checkpoint_every" or "checkpoint_dir";

    public static string Compute(string method, IReadOnlyDictionary<string, string> boundOptions, int seed, string device,
        string activationsHash, string? site, string? targetsHash, string? groundTruthHash)
    {
        var options = new JsonObject();
        foreach (var (k, v) in boundOptions.Where(kv => !IsRunControl(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal))
            options[k] = v;
        var canonical = new JsonObject
        {
            ["format"] = Format,
            ["method"] = method,
            ["options"] = options,
            ["seed"] = seed,
            ["device"] = device.StartsWith("cuda", StringComparison.Ordinal) ? "cuda" : device,
            ["activations"] = activationsHash,
            ["site"] = site,
            ["targets"] = targetsHash,
            ["ground_truth"] = groundTruthHash,
        };
        var bytes = Encoding.UTF8.GetBytes(canonical.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    /// <summary>The job's folder name: the method ID and the first 12 hex digits of the identity.</summary>
    public static string FolderName(string method, string id) => $"{method}-{id[..12]}";
}
