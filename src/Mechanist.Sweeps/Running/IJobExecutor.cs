using Mechanist.Sweeps.Planning;

namespace Mechanist.Sweeps.Running;

/// <summary>
/// Runs one job on the calling thread (a dedicated one, never Orleans' scheduler) and writes its outputs under the
/// sweep's folder. Never throws for a failing job: the failure is the outcome.
/// </summary>
public interface IJobExecutor
{
    JobOutcome Run(JobSpec job, JobRunContext context);
}

/// <summary>Where and how a job runs: the silo, the attempt, libtorch threads for this job, and cancellation (silo shutdown).</summary>
public sealed record JobRunContext(string Silo, int Attempt, int Threads, CancellationToken Cancellation);
