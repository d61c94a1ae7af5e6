namespace Mechanist.Sweeps.Grains;

/// <summary>The durable part of a sweep: its jobs in order and how many lost silos a job may survive.</summary>
[GenerateSerializer, Alias("Mechanist.Sweeps.SweepState")]
public sealed class SweepState
{
    /// <summary>The job grains' keys (<see cref="Planning.JobSpec.GrainKey"/>), in the sweep's order.</summary>
    [Id(0)] public List<string> JobKeys { get; set; } = [];

    [Id(1)] public int MaxAttempts { get; set; } = 3;

    /// <summary>The sweep run (one <c>sweep</c> command) that opened it last: a retried Open of that run changes nothing.</summary>
    [Id(2)] public string? OpenedBy { get; set; }
}
