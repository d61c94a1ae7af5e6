using Mechanist.Sweeps.Planning;

namespace Mechanist.Sweeps.Grains;

/// <summary>
/// The durable record of one job (grain state, in memory or in Redis): its spec, where it is, which attempt is
/// current, and how it ended. Only the current attempt may record an outcome, and only once.
/// </summary>
[GenerateSerializer, Alias("Mechanist.Sweeps.JobState")]
public sealed class JobState
{
    [Id(0)] public JobSpec? Spec { get; set; }

    [Id(1)] public JobStatus Status { get; set; }

    /// <summary>Incremented at every claim; a result is accepted only from the current attempt.</summary>
    [Id(2)] public int Attempt { get; set; }

    /// <summary>The silo running the current attempt (<c>SiloAddress.ToParsableString()</c>).</summary>
    [Id(3)] public string? Silo { get; set; }

    [Id(4)] public JobOutcome? Outcome { get; set; }

    /// <summary>Attempts lost with their silo, oldest first ("attempt N on SILO").</summary>
    [Id(5)] public List<string> Lost { get; set; } = [];

    /// <summary>The worker's token of the current claim: the same worker asking again (its answer was lost) gets the same lease.</summary>
    [Id(6)] public string? ClaimToken { get; set; }

    /// <summary>The sweep run that submitted the job last: a repeated submission of that run changes nothing.</summary>
    [Id(7)] public string? SubmittedBy { get; set; }
}
