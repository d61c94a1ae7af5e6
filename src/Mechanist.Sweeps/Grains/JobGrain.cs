using Mechanist.Sweeps.Planning;
using Microsoft.Extensions.Logging;

namespace Mechanist.Sweeps.Grains;

/// <summary>
/// A job's durable record. Transitions: pending → running (claimed for a silo, attempt + 1) → succeeded or failed
/// (the outcome of the current attempt, accepted once). A running job whose silo the cluster declares dead goes back
/// to pending, to be claimed by another silo, until it has lost <c>maxAttempts</c> silos; then it fails with that
/// history. Each transition is written to grain storage before it is answered.
/// </summary>
public sealed class JobGrain(
    [PersistentState("job", SweepStorage.Name)] IPersistentState<JobState> state,
    IClusterMembershipService membership,
    ILogger<JobGrain> logger) : Grain, IJobGrain
{
    JobState S => state.State;

    public async Task<JobView> Submit(JobSpec spec, string runId)
    {
        if (spec.GrainKey != this.GetPrimaryKeyString())
            throw new ArgumentException($"job {spec.GrainKey} submitted to the grain of job {this.GetPrimaryKeyString()}.", nameof(spec));
        if (S.SubmittedBy == runId) return View();
        S.SubmittedBy = runId;
        if (S.Spec is null || S.Status is JobStatus.Succeeded or JobStatus.Failed)
        {
            S.Spec = spec;
            S.Status = JobStatus.Pending;
            S.Silo = null;
            S.Outcome = null;
            S.Lost.Clear();
        }
        await state.WriteStateAsync();
        return View();
    }

    public async Task<JobLease?> TryClaim(string sweepId, string silo, string token, int maxAttempts)
    {
        await RequeueIfLost(maxAttempts);
        if (S.Spec is not null && S.Status == JobStatus.Running && S.ClaimToken == token && S.Silo == silo)
            return new JobLease(sweepId, S.Spec, S.Attempt);
        if (S.Spec is null || S.Status != JobStatus.Pending) return null;
        S.Attempt++;
        S.Status = JobStatus.Running;
        S.Silo = silo;
        S.ClaimToken = token;
        await state.WriteStateAsync();
        return new JobLease(sweepId, S.Spec, S.Attempt);
    }

    public async Task<bool> Complete(int attempt, JobOutcome outcome)
    {
        if (S.Status != JobStatus.Running || attempt != S.Attempt)
        {
            logger.LogInformation("job {Job}: ignored the outcome of attempt {Attempt} (now {Status}, attempt {Current})",
                this.GetPrimaryKeyString(), attempt, S.Status, S.Attempt);
            return false;
        }
        S.Status = outcome.Succeeded ? JobStatus.Succeeded : JobStatus.Failed;
        S.Outcome = outcome;
        await state.WriteStateAsync();
        return true;
    }

    public async Task<JobView> Get(int maxAttempts)
    {
        await RequeueIfLost(maxAttempts);
        return View();
    }

    async Task RequeueIfLost(int maxAttempts)
    {
        if (S.Status != JobStatus.Running || S.Silo is null) return;
        if (membership.CurrentSnapshot.GetSiloStatus(SiloAddress.FromParsableString(S.Silo)) != SiloStatus.Dead) return;
        S.Lost.Add($"attempt {S.Attempt} on {S.Silo}");
        logger.LogWarning("job {Job}: silo {Silo} is dead; attempt {Attempt} is lost", this.GetPrimaryKeyString(), S.Silo, S.Attempt);
        if (S.Lost.Count >= maxAttempts)
        {
            S.Status = JobStatus.Failed;
            S.Outcome = JobOutcome.Failure($"lost its silo {S.Lost.Count} times ({string.Join("; ", S.Lost)}); not retried again", S.Silo, 0);
        }
        else S.Status = JobStatus.Pending;
        S.Silo = null;
        await state.WriteStateAsync();
    }

    JobView View() => new(S.Spec?.Id ?? this.GetPrimaryKeyString(), S.Status, S.Attempt, S.Silo, S.Outcome, S.Lost.Count,
        S.Status == JobStatus.Running ? S.ClaimToken : null);
}
