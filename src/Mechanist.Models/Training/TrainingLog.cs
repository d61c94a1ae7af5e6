using System.Text.Json.Nodes;
using Mechanist.IO;

namespace Mechanist.Models.Training;

/// <summary>
/// A training run's log: one JSON object per line (<c>training_log.jsonl</c>), each with an <c>epoch</c>, flushed
/// as it is written. A resumed run first drops the rows at or after the epoch it resumes from (and a line cut
/// short by a kill), so the log reads as one uninterrupted run.
/// </summary>
public sealed class TrainingLog : IDisposable
{
    public const string FileName = "training_log.jsonl";

    readonly StreamWriter _writer;

    TrainingLog(StreamWriter writer) => _writer = writer;

    /// <summary>Opens the log of <paramref name="folder"/>, keeping only complete rows with epoch &lt; <paramref name="resumeEpoch"/>.</summary>
    public static TrainingLog Open(string folder, long resumeEpoch)
    {
        var path = Path.Combine(folder, FileName);
        var kept = new List<string>();
        if (resumeEpoch > 0 && File.Exists(path))
        {
            foreach (var line in File.ReadLines(path))
            {
                if (TryEpoch(line) is { } epoch && epoch < resumeEpoch) kept.Add(line);
            }
        }
        AtomicFile.WriteText(path, kept.Count == 0 ? "" : string.Join('\n', kept) + "\n");
        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        return new TrainingLog(new StreamWriter(stream, new System.Text.UTF8Encoding(false)));
    }

    public void Append(JsonObject row)
    {
        _writer.Write(row.ToJsonString());
        _writer.Write('\n');
        _writer.Flush();
    }

    /// <summary>Reads the rows of a log file (incomplete lines skipped).</summary>
    public static IReadOnlyList<JsonObject> Read(string path) =>
        File.ReadLines(path).Select(Parse).OfType<JsonObject>().ToList();

    static JsonObject? Parse(string line)
    {
        try
        {
            return JsonNode.Parse(line) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    static long? TryEpoch(string line) =>
        Parse(line) is { } o && o["epoch"] is JsonValue v && v.TryGetValue<long>(out var e) ? e : null;

    public void Dispose() => _writer.Dispose();
}
