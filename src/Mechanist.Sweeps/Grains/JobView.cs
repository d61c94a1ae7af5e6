using Mechanist.Sweeps.Planning;

namespace Mechanist.Sweeps.Grains;

/// <summary>A snapshot of a job's record, as the sweep and its caller see it.</summary>
[GenerateSerializer, Immutable, Alias("Mechanist.Sweeps.JobView")]
public sealed record JobView(
    [property: Id(0)] string Id,
    [property: Id(1)] JobStatus Status,
    [property: Id(2)] int Attempt,
    [property: Id(3)] string? Silo,
    [property: Id(4)] JobOutcome? Outcome,
    [property: Id(5)] int LostAttempts,
    [property: Id(6)] string? ClaimToken = null)
{
    public bool IsFinished => Status is JobStatus.Succeeded or JobStatus.Failed;
}
