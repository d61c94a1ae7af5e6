using System.Text.Json.Serialization;

namespace Mechanist.Sweeps.Planning;

/// <summary>
/// One job of a sweep: a decomposer fit, everything a silo needs to run it. <see cref="Id"/> is the content hash of
/// the inputs and options (<see cref="JobIdentity"/>); paths are absolute and must be reachable from every silo.
/// Immutable by convention (Orleans copies it as such).
/// </summary>
[GenerateSerializer, Immutable, Alias("Mechanist.Sweeps.JobSpec")]
public sealed record JobSpec
{
    /// <summary>SHA-256 (hex) of the job's inputs and options.</summary>
    [Id(0)] public string Id { get; init; } = "";

    /// <summary>The job's folder under <c>OUT/jobs/</c>: the method ID and the first 12 hex digits of <see cref="Id"/>.</summary>
    [Id(1)] public string Folder { get; init; } = "";

    /// <summary>A short human label: the method and the options, site and seed that vary across the sweep.</summary>
    [Id(2)] public string Label { get; init; } = "";

    [Id(3)] public string Method { get; init; } = "";

    /// <summary>Method options as <c>--set</c> would give them (checkpoint options are added when the job runs).</summary>
    [Id(4)] public Dictionary<string, string> Settings { get; init; } = [];

    [Id(5)] public int Seed { get; init; }

    /// <summary><c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    [Id(6)] public string Device { get; init; } = "cpu";

    /// <summary>A <c>.safetensors</c>/<c>.npy</c> file or an activation store folder.</summary>
    [Id(7)] public string Activations { get; init; } = "";

    /// <summary>The tensor or store site fitted; null for the file's single matrix or the store's only site.</summary>
    [Id(8)] public string? Site { get; init; }

    [Id(9)] public string? Targets { get; init; }

    [Id(10)] public string? GroundTruth { get; init; }

    /// <summary>The sweep's output folder (shared by every silo).</summary>
    [Id(11)] public string OutputRoot { get; init; } = "";

    /// <summary>Trainer checkpoint interval in steps for methods that checkpoint; 0 = none.</summary>
    [Id(12)] public int CheckpointEvery { get; init; }

    [Id(13)] public string[] Plugins { get; init; } = [];

    /// <summary>
    /// The key of the job's grain: the identity within this output folder, so that two sweeps writing to different
    /// folders each run (and record) their own copy of a shared job.
    /// </summary>
    [JsonIgnore]
    public string GrainKey =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(OutputRoot)))[..16] + "-" + Id;

    [JsonIgnore] public string OutputFolder => Path.Combine(OutputRoot, SweepLayout.JobsFolder, Folder);

    [JsonIgnore] public string CheckpointFolder => Path.Combine(OutputRoot, SweepLayout.CheckpointsFolder, Folder);
}
