using Mechanist.Sweeps.Grains;
using Mechanist.Sweeps.Planning;
using Mechanist.Sweeps.Running;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Mechanist.Sweeps.Tests;

/// <summary>
/// The sweep's orchestration on an in-process cluster of three silos (Orleans TestingHost): placement by free slots,
/// one recorded outcome per job, failures reported while the sweep goes on, and a dead silo's job run elsewhere.
/// Jobs are scripted (sleep, succeed or fail) so that only the orchestration is under test.
/// </summary>
[Collection(SweepCollection.Name)]
public sealed class OrchestrationTests
{
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Jobs_spread_over_silos_within_their_slots_and_each_outcome_is_recorded_once()
    {
        await using var cluster = await TestCluster.Start(silos: 3, slots: 2);
        var root = "/sweeps/" + Guid.NewGuid().ToString("N");
        var jobs = TestCluster.Jobs(root, count: 12, sleepMs: 300, failing: 1); // fails in the first wave, others still to run
        var seen = new List<SweepProgress>();
        var views = await new SweepCoordinator(cluster.Client) { PollInterval = TimeSpan.FromMilliseconds(50) }
            .Run(SweepCoordinator.SweepId(root, jobs), jobs, new Collect(seen), Limit, CancellationToken.None);

        Assert.Equal(12, views.Count);
        Assert.Equal(11, views.Count(v => v.Status == JobStatus.Succeeded));
        var failed = Assert.Single(views, v => v.Status == JobStatus.Failed);
        Assert.Equal(jobs[1].Id, failed.Id);
        Assert.Equal("job 1: scripted failure", failed.Outcome!.Error);
        // The failure was visible while other jobs were still pending or running.
        Assert.Contains(seen, p => p.Errors.ContainsKey(jobs[1].Id) && !p.IsComplete);

        // A job runs again only when an attempt was lost with its silo (none, unless a loaded machine stalls a silo).
        var runs = ScriptedExecutor.Runs.Where(r => jobs.Any(j => j.Id == r.Job)).ToList();
        Assert.Equal(12 + views.Sum(v => v.LostAttempts), runs.Count);
        Assert.All(views, v => Assert.Equal(1 + v.LostAttempts, v.Attempt));
        var workers = cluster.Silos.Select(s => s.ServiceProvider.GetRequiredService<SweepWorker>()).ToList();
        Assert.All(workers, w => Assert.InRange(w.MaxRunning, 1, 2)); // every silo took work, none beyond its slots
        Assert.Equal(runs.Count, workers.Sum(w => w.Started));
        Assert.All(seen, p => Assert.All(p.RunningPerSilo.Values, n => Assert.InRange(n, 1, 2)));
    }

    [Fact]
    public async Task A_job_records_only_its_current_attempt_and_only_once_and_retried_calls_change_nothing()
    {
        await using var cluster = await TestCluster.Start(silos: 1, slots: 1);
        var job = TestCluster.Jobs("/sweeps/" + Guid.NewGuid().ToString("N"), 1, 0)[0];
        var grain = cluster.Client.GetGrain<IJobGrain>(job.GrainKey);
        var silo = cluster.Silos[0].SiloAddress.ToParsableString();
        Assert.Equal(JobStatus.Pending, (await grain.Submit(job, "run 1")).Status);
        var lease = await grain.TryClaim("s", silo, "token 1", maxAttempts: 3);
        Assert.NotNull(lease);
        var again = await grain.TryClaim("s", silo, "token 1", maxAttempts: 3); // the same claim asked again: the same lease
        Assert.Equal((lease.Spec.Id, lease.Attempt), (again!.Spec.Id, again.Attempt));
        Assert.Null(await grain.TryClaim("s", silo, "token 2", maxAttempts: 3)); // running: not claimable by another
        Assert.Equal(JobStatus.Running, (await grain.Submit(job, "run 1")).Status); // a retried submission
        var outcome = new JobOutcome { Succeeded = true, Row = "{}", Silo = silo };
        Assert.False(await grain.Complete(lease.Attempt + 1, outcome)); // an attempt that was never handed out
        Assert.True(await grain.Complete(lease.Attempt, outcome));
        Assert.False(await grain.Complete(lease.Attempt, outcome with { Succeeded = false, Error = "late" })); // repeated report
        var view = await grain.Get(3);
        Assert.Equal(JobStatus.Succeeded, view.Status);
        Assert.Null(view.Outcome!.Error);
        Assert.Equal(JobStatus.Succeeded, (await grain.Submit(job, "run 1")).Status); // retried: not run again
        var rerun = await grain.Submit(job, "run 2"); // a new run whose outputs are missing: run again
        Assert.Equal(JobStatus.Pending, rerun.Status);
        Assert.Equal(lease.Attempt + 1, (await grain.TryClaim("s", silo, "token 3", maxAttempts: 3))!.Attempt);
    }

    [Fact]
    public async Task The_job_of_a_killed_silo_runs_again_elsewhere_and_is_recorded_once()
    {
        await using var cluster = await TestCluster.Start(silos: 3, slots: 1, fastFailureDetection: true);
        var root = "/sweeps/" + Guid.NewGuid().ToString("N");
        var jobs = TestCluster.Jobs(root, count: 6, sleepMs: 1500);
        var coordinator = new SweepCoordinator(cluster.Client) { PollInterval = TimeSpan.FromMilliseconds(50) };
        var run = coordinator.Run(SweepCoordinator.SweepId(root, jobs), jobs, null, Limit, CancellationToken.None);

        // Wait (bounded) until every silo runs a job, then kill a secondary silo mid-job.
        var victim = cluster.Silos[2];
        var address = victim.SiloAddress.ToParsableString();
        var sweep = cluster.Client.GetGrain<ISweepGrain>(SweepCoordinator.SweepId(root, jobs));
        for (var start = DateTime.UtcNow; ; await Task.Delay(50))
        {
            Assert.True(DateTime.UtcNow - start < TimeSpan.FromSeconds(30), "silo 2 never got a job");
            if ((await sweep.Progress()).RunningPerSilo.ContainsKey(address)) break;
        }
        // The claim is recorded before the slot's thread starts the job: wait (bounded) for the run itself.
        string? lostJob = null;
        for (var start = DateTime.UtcNow; lostJob is null; await Task.Delay(20))
        {
            Assert.True(DateTime.UtcNow - start < TimeSpan.FromSeconds(30), "silo 2 never started its job");
            lostJob = ScriptedExecutor.Runs.LastOrDefault(r => r.Silo == address && jobs.Any(j => j.Id == r.Job)).Job;
        }
        await cluster.KillSiloAsync(victim);

        var views = await run.WaitAsync(Limit);
        Assert.All(views, v => Assert.Equal(JobStatus.Succeeded, v.Status));
        var lost = views.Single(v => v.Id == lostJob);
        Assert.True(lost.LostAttempts >= 1);
        Assert.Equal(1 + lost.LostAttempts, lost.Attempt);
        Assert.NotEqual(address, lost.Outcome!.Silo);
        Assert.All(views, v => Assert.Equal(1 + v.LostAttempts, v.Attempt));
        // Six jobs; each ran once more for every attempt lost with a silo (the killed silo's job: once there, once elsewhere).
        var runs = ScriptedExecutor.Runs.Where(r => jobs.Any(j => j.Id == r.Job)).ToList();
        Assert.Equal(6 + views.Sum(v => v.LostAttempts), runs.Count);
        Assert.Equal(1 + lost.LostAttempts, runs.Count(r => r.Job == lostJob));
    }

    sealed class Collect(List<SweepProgress> into) : IProgress<SweepProgress>
    {
        public void Report(SweepProgress value) { lock (into) into.Add(value); }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SweepCollection
{
    public const string Name = "sweeps (process-wide libtorch threads and ports)";
}
