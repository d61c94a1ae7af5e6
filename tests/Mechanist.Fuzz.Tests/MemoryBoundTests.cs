using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Mechanist.Testing;
using Xunit.Abstractions;

namespace Mechanist.Fuzz.Tests;

/// <summary>
/// Files that declare sizes far beyond what they hold, or beyond this machine, are refused before anything of that
/// size is allocated. Each case runs in a child process (the fuzzing harness, <c>replay-folder</c>), whose peak RSS
/// growth during the read is measured by the contract (VmHWM after a reset through /proc/self/clear_refs) and whose
/// whole peak is read at exit: a reader that allocated what the file declares would show gigabytes here.
/// </summary>
public sealed class MemoryBoundTests(ITestOutputHelper output)
{
    const long MiB = 1 << 20;

    /// <summary>A header declaring a tensor of 4 TB (10⁶ × 10⁶ F32) in a 200-byte file.</summary>
    [Fact]
    public void A_header_declaring_a_huge_tensor_in_a_small_file()
    {
        using var temp = new TempDir();
        var header = """{"activations":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4000000000000]}}""";
        WriteSafetensors(temp.File("tensors.safetensors"), header, dataLength: 16);
        var (outcome, growth, peak) = Harness("safetensors", temp.Path);
        Assert.StartsWith("rejected", outcome);
        Assert.Contains("data_offsets [0, 4000000000000] lie outside the data section", outcome);
        AssertBounded(growth, peak, 64 * MiB);
    }

    /// <summary>
    /// A consistent header over a sparse file of 1 TiB: the tensor really is in the file (as zeros), but it is larger
    /// than the memory available, so it is refused before the buffer is allocated instead of being killed half-way.
    /// </summary>
    [Fact]
    public void A_consistent_header_over_a_terabyte_sparse_file()
    {
        using var temp = new TempDir();
        const long rows = 1L << 18, columns = 1L << 20; // 2^38 F32 = 1 TiB
        var header = "{\"activations\":{\"dtype\":\"F32\",\"shape\":[" + rows + "," + columns + "],\"data_offsets\":[0," + rows * columns * 4 + "]}}";
        WriteSafetensors(temp.File("tensors.safetensors"), header, dataLength: rows * columns * 4);
        var (outcome, growth, peak) = Harness("safetensors", temp.Path);
        Assert.StartsWith("rejected", outcome);
        Assert.Contains("tensor 'activations' needs 1024.0 GiB of memory, more than the", outcome);
        AssertBounded(growth, peak, 64 * MiB);
    }

    /// <summary>A manifest that lists a million shards (45 MB of JSON) beside one shard file.</summary>
    [Fact]
    public void A_manifest_declaring_a_million_shards()
    {
        using var temp = new TempDir();
        var text = new StringBuilder("""{"format":"mechanist.activation-store","version":1,"dtype":"F32","rows":1000000,"sites":[{"name":"a","dimension":1}],"shards":[""");
        for (int i = 0; i < 1_000_000; i++)
            text.Append(i == 0 ? "" : ",").Append("{\"file\":\"shard-").Append(i.ToString("D7", CultureInfo.InvariantCulture)).Append(".safetensors\",\"rows\":1}");
        text.Append("]}");
        File.WriteAllText(temp.File("manifest.json"), text.ToString());
        WriteSafetensors(temp.File("shard-00000.safetensors"), """{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}}""", 4);
        var size = new FileInfo(temp.File("manifest.json")).Length;
        Assert.True(size > 40 * MiB);
        var (outcome, growth, peak) = Harness("activation-store", temp.Path);
        Assert.StartsWith("rejected", outcome);
        Assert.Contains("manifest.json: store manifest of", outcome);
        AssertBounded(growth, peak, 64 * MiB);
    }

    /// <summary>A manifest under the size limit that lists 100,000 shards while the folder holds one: refused at the second.</summary>
    [Fact]
    public void A_manifest_listing_more_shards_than_the_folder_holds()
    {
        using var temp = new TempDir();
        var shards = new JsonArray();
        for (int i = 0; i < 100_000; i++) shards.Add(new JsonObject { ["file"] = $"shard-{i:D5}.safetensors", ["rows"] = 1 });
        var manifest = new JsonObject
        {
            ["format"] = "mechanist.activation-store", ["version"] = 1, ["dtype"] = "F32", ["rows"] = 100_000,
            ["sites"] = new JsonArray(new JsonObject { ["name"] = "a", ["dimension"] = 1 }), ["shards"] = shards,
        };
        File.WriteAllText(temp.File("manifest.json"), manifest.ToJsonString());
        WriteSafetensors(temp.File("shard-00000.safetensors"), """{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}}""", 4);
        var size = new FileInfo(temp.File("manifest.json")).Length;
        var (outcome, growth, peak) = Harness("activation-store", temp.Path);
        Assert.StartsWith("rejected", outcome);
        Assert.Contains("shard-00001.safetensors: file not found", outcome);
        AssertBounded(growth, peak, 64 * MiB + 32 * size);
    }

    /// <summary>A JSONL file whose first line is a gigabyte long (a sparse file: '[' then zeros).</summary>
    [Fact]
    public void A_jsonl_line_of_a_gigabyte()
    {
        using var temp = new TempDir();
        using (var f = new FileStream(temp.File("tokens.jsonl"), FileMode.CreateNew))
        {
            f.Write("[1, 2, "u8);
            f.SetLength(1L << 30);
        }
        var (outcome, growth, peak) = Harness("jsonl-tokens", temp.Path);
        Assert.StartsWith("rejected", outcome);
        Assert.Contains("tokens.jsonl, line 1: longer than 16777216 bytes", outcome);
        AssertBounded(growth, peak, 64 * MiB);
    }

    static void WriteSafetensors(string path, string header, long dataLength)
    {
        var json = Encoding.UTF8.GetBytes(header);
        using var f = new FileStream(path, FileMode.CreateNew);
        f.Write(BitConverter.GetBytes((ulong)json.Length));
        f.Write(json);
        f.SetLength(8 + json.Length + dataLength); // sparse: the data reads as zeros and takes no disk
    }

    /// <summary>The read's peak RSS growth within the bound, and the whole process under the bound plus what the runtime and libtorch take.</summary>
    void AssertBounded(long growth, long peak, long bound)
    {
        output.WriteLine($"peak RSS growth during the read {growth / 1024} KiB (bound {bound / 1024} KiB); process peak {peak / MiB} MiB");
        Assert.True(growth <= bound, $"peak RSS grew {growth / MiB} MiB during the read, bound {bound / MiB} MiB");
        Assert.True(peak <= bound + 768 * MiB, $"the harness peaked at {peak / MiB} MiB");
    }

    /// <summary>Runs <c>Mechanist.Fuzz replay-folder</c>; returns the outcome text, the read's RSS growth and the process's peak.</summary>
    static (string Outcome, long Growth, long Peak) Harness(string target, string folder)
    {
        var harness = Path.Combine(AppContext.BaseDirectory, "Mechanist.Fuzz.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { harness, "replay-folder", target, folder }) start.ArgumentList.Add(a);
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), "the harness did not finish in 2 minutes");
        var lines = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 2, $"harness output:\n{stdout.Result}\n{stderr.Result}");
        var outcome = lines[0][(lines[0].IndexOf(": ", StringComparison.Ordinal) + 2)..];
        var growthText = System.Text.RegularExpressions.Regex.Match(outcome, @"peak RSS \+(\d+) KiB").Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(growthText), $"no RSS measurement in: {outcome}");
        long peak = long.Parse(lines[1]["peak_rss_bytes=".Length..], CultureInfo.InvariantCulture);
        return (outcome, long.Parse(growthText, CultureInfo.InvariantCulture) * 1024, peak);
    }
}
