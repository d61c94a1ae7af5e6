using Mechanist.Sweeps.Planning;

namespace Mechanist.Sweeps.Grains;

/// <summary>
/// A sweep: its jobs in order, handed out one at a time to silos with a free slot. Keyed by the sweep's identity
/// (the hash of its output folder and job identities), so a rerun of the same sweep finds it again.
/// </summary>
[Alias("Mechanist.Sweeps.ISweepGrain")]
public interface ISweepGrain : IGrainWithStringKey
{
    /// <summary>Registers the jobs (each job grain is submitted) and lists the sweep on the board.</summary>
    [Alias("Open")] Task Open(List<JobSpec> jobs, int maxAttempts);

    /// <summary>The next pending job, claimed for <paramref name="silo"/>; null when none is pending.</summary>
    [Alias("Claim")] Task<JobLease?> Claim(string silo);

    /// <summary>Records a job's outcome through its grain; false for a stale or repeated report.</summary>
    [Alias("Complete")] Task<bool> Complete(string jobKey, int attempt, JobOutcome outcome);

    [Alias("Progress")] Task<SweepProgress> Progress();

    /// <summary>Every job's record, fresh from its grain.</summary>
    [Alias("Jobs")] Task<List<JobView>> Jobs();

    /// <summary>Takes the sweep off the board: silos stop asking it for work.</summary>
    [Alias("Close")] Task Close();
}
