using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Host.Reports;
using Mechanist.IO;
using Mechanist.Sweeps.Grains;
using Mechanist.Sweeps.Planning;

namespace Mechanist.Sweeps.Running;

/// <summary>
/// A sweep's results: each finished job's row read back from its folder's <c>job.json</c> (so the report reflects
/// what is on disk, wherever the job ran), each failed job with its error, and the compare-style <c>results.json</c>.
/// </summary>
public sealed record SweepResults(IReadOnlyList<JsonObject> Rows, IReadOnlyList<JsonObject> Failures)
{
    /// <summary>The results row of a job whose outputs are complete on disk; null when it has not finished.</summary>
    public static JsonObject? FinishedRow(JobSpec job)
    {
        var path = Path.Combine(job.OutputFolder, SweepLayout.JobFile);
        if (!File.Exists(path)) return null;
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path)) as JsonObject;
            return node?["row"] is JsonObject row && row["job"]?.GetValue<string>() == job.Id ? (JsonObject)row.DeepClone() : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return null; // not a finished job's record: the job runs again and replaces the folder
        }
    }

    /// <summary>Rows and failures of <paramref name="jobs"/>, from disk and from the cluster's records (<paramref name="views"/>).</summary>
    public static SweepResults Collect(IReadOnlyList<JobSpec> jobs, IReadOnlyDictionary<string, JobView> views)
    {
        var rows = new List<JsonObject>();
        var failures = new List<JsonObject>();
        foreach (var job in jobs)
        {
            if (FinishedRow(job) is { } row)
            {
                rows.Add(row);
                continue;
            }
            views.TryGetValue(job.Id, out var view);
            var error = view switch
            {
                null => "the job did not run",
                { Status: JobStatus.Failed } => view.Outcome?.Error ?? "failed",
                { Status: JobStatus.Succeeded } => $"recorded as finished on {view.Outcome?.Silo}, but {job.OutputFolder} has no {SweepLayout.JobFile}: is the output folder shared by every silo?",
                _ => $"still {view.Status.ToString().ToLowerInvariant()}",
            };
            failures.Add(new JsonObject
            {
                ["job"] = job.Id, ["label"] = job.Label, ["method"] = job.Method, ["site"] = job.Site, ["seed"] = job.Seed,
                ["silo"] = view?.Outcome?.Silo ?? view?.Silo, ["attempts"] = view?.Attempt ?? 0, ["error"] = error,
            });
        }
        return new SweepResults(rows, failures);
    }

    public JsonObject ToJson(SweepDefinition sweep, string outputRoot, IReadOnlyList<JobSpec> jobs, string mode) => new()
    {
        ["sweep"] = sweep.SourcePath,
        ["name"] = sweep.Name,
        ["out"] = Path.GetFullPath(outputRoot),
        ["mode"] = mode,
        ["activations"] = jobs.FirstOrDefault()?.Activations,
        ["ground_truth"] = sweep.GroundTruth,
        ["targets"] = sweep.Targets,
        ["device"] = jobs.FirstOrDefault()?.Device,
        ["job_count"] = jobs.Count,
        ["succeeded"] = Rows.Count,
        ["failed_count"] = Failures.Count,
        ["jobs"] = new JsonArray(Rows.Select(r => (JsonNode)r.DeepClone()).ToArray()),
        ["failed"] = new JsonArray(Failures.Select(f => (JsonNode)f.DeepClone()).ToArray()),
        ["definitions"] = Definitions(),
    };

    static JsonObject Definitions()
    {
        var d = ComparisonReport.Definitions();
        d["job"] = "the job's identity: SHA-256 of its method, bound options, seed, device and the content of its inputs";
        d["attempt"] = "which claim of the job produced this row (more than 1 when a silo running it died)";
        d["resumed_from_step"] = "the trainer checkpoint step the fit resumed from, or null when it started fresh";
        return d;
    }

    /// <summary>Writes <c>results.json</c> and the report files over all jobs (each atomically).</summary>
    public void Write(string outputRoot, JsonObject results, IReadOnlyList<(string Name, byte[] Content)> reportFiles)
    {
        AtomicFile.WriteText(Path.Combine(outputRoot, SweepLayout.ResultsFile), results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        foreach (var (name, content) in reportFiles)
            AtomicFile.Write(Path.Combine(outputRoot, name), s => s.Write(content));
        var checkpoints = Path.Combine(outputRoot, SweepLayout.CheckpointsFolder);
        if (Directory.Exists(checkpoints) && !Directory.EnumerateFileSystemEntries(checkpoints).Any()) Directory.Delete(checkpoints);
    }
}
