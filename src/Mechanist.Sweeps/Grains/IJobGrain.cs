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
    /// <summary>
    /// Registers the job to run for sweep run <paramref name="runId"/>: a new or finished record becomes pending; a
    /// running or pending one is left as it is; the same run submitting again (a retried call) changes nothing.
    /// </summary>
    [Alias("Submit")] Task<JobView> Submit(JobSpec spec, string runId);

    /// <summary>
    /// Claims the job for <paramref name="silo"/> when it is pending (or its silo is dead); null when not claimable.
    /// The same <paramref name="token"/> asking again while its claim runs gets the same lease back.
    /// </summary>
    [Alias("TryClaim")] Task<JobLease?> TryClaim(string sweepId, string silo, string token, int maxAttempts);

    /// <summary>Records the outcome of <paramref name="attempt"/>; false (and nothing changes) for a stale or repeated report.</summary>
    [Alias("Complete")] Task<bool> Complete(int attempt, JobOutcome outcome);

    /// <summary>The record; a job running on a silo the cluster has declared dead goes back to pending first.</summary>
    [Alias("Get")] Task<JobView> Get(int maxAttempts);
}
