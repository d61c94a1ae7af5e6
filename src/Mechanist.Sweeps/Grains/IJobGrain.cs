using Mechanist.Sweeps.Planning;

namespace Mechanist.Sweeps.Grains;

/// <summary>
/// One job of a sweep, keyed by <see cref="JobSpec.GrainKey"/> (its identity, the content hash of its inputs and
/// options, within its output folder). Holds the job's durable
/// record; the sweep claims it for a silo, the silo's worker runs it and completes it.
/// </summary>
[Alias("Mechanist.Sweeps.IJobGrain")]
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>Registers the job to run: a new or failed record becomes pending; a running or pending one is left as it is.</summary>
    [Alias("Submit")] Task<JobView> Submit(JobSpec spec);

    /// <summary>Claims the job for <paramref name="silo"/> when it is pending (or its silo is dead); null when not claimable.</summary>
    [Alias("TryClaim")] Task<JobLease?> TryClaim(string sweepId, string silo, int maxAttempts);

    /// <summary>Records the outcome of <paramref name="attempt"/>; false (and nothing changes) for a stale or repeated report.</summary>
    [Alias("Complete")] Task<bool> Complete(int attempt, JobOutcome outcome);

    /// <summary>The record; a job running on a silo the cluster has declared dead goes back to pending first.</summary>
    [Alias("Get")] Task<JobView> Get(int maxAttempts);
}
