using Mechanist.Sweeps.Planning;

namespace Mechanist.Sweeps.Grains;

/// <summary>
/// A sweep: its jobs in order, handed out one at a time to silos with a free slot. Keyed by the sweep's identity
/// (the hash of its output folder and job identities), so a rerun of the same sweep finds it again.
/// </summary>
[Alias("Mechanist.Sweeps.ISweepGrain")]
public interface ISweepGrain : IGrainWithStringKey
{
    /// <summary>Registers the jobs of sweep run <paramref name="runId"/> (each job grain is submitted; a retried call changes nothing) and lists the sweep on the board.</summary>
    [Alias("Open")] Task Open(List<JobSpec> jobs, int maxAttempts, string runId);

    /// <summary>
    /// The next pending job, claimed for <paramref name="silo"/>; null when none is pending. A worker whose call failed
    /// asks again with the same <paramref name="token"/> and gets the job it may already have been given.
    /// </summary>
    [Alias("Claim")] Task<JobLease?> Claim(string silo, string token);

    /// <summary>Records a job's outcome through its grain; false for a stale or repeated report.</summary>
    [Alias("Complete")] Task<bool> Complete(string jobKey, int attempt, JobOutcome outcome);

    [Alias("Progress")] Task<SweepProgress> Progress();

    /// <summary>Every job's record, fresh from its grain.</summary>
    [Alias("Jobs")] Task<List<JobView>> Jobs();

    /// <summary>Takes the sweep off the board: silos stop asking it for work.</summary>
    [Alias("Close")] Task Close();
}
