using Mechanist.Sweeps.Grains;
using Mechanist.Sweeps.Planning;
using Mechanist.Sweeps.Running;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mechanist.Sweeps;

/// <summary>
/// A silo's job slots. While a slot is free the worker asks the open sweeps for a job (so jobs go where there is free
/// capacity), runs it on the slot's dedicated thread (<see cref="JobThreads"/>) with the configured libtorch threads,
/// and reports the outcome to the sweep.
/// </summary>
public sealed class SweepWorker(
    IGrainFactory grains,
    ILocalSiloDetails silo,
    IJobExecutor executor,
    IOptions<SweepWorkerOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<SweepWorker> logger) : BackgroundService
{
    readonly SweepWorkerOptions _options = options.Value;
    JobThreads? _threads;
    // Kept until a claim is answered: if the answer is lost (a timeout while the grain did claim a job), asking again
    // with the same token returns that job instead of leaving it running on this silo unseen.
    string _claimToken = NewToken();
    int _running;
    int _maxRunning;
    int _started;

    /// <summary>The most jobs this silo ran at once.</summary>
    public int MaxRunning => Volatile.Read(ref _maxRunning);

    /// <summary>Jobs started on this silo.</summary>
    public int Started => Volatile.Read(ref _started);

    string Silo => silo.SiloAddress.ToParsableString();

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        if (!await WaitForStart(lifetime, stopping)) return;
        logger.LogInformation("silo {Silo}: {Slots} job slot(s), {Threads} libtorch thread(s) per job", Silo, _options.Slots, _options.ThreadsPerJob);
        using var threads = _threads = new JobThreads(_options.Slots, "sweep job slot");
        var running = new List<Task>();
        while (!stopping.IsCancellationRequested)
        {
            running.RemoveAll(t => t.IsCompleted);
            if (running.Count < _options.Slots && await NextJob(stopping) is { } lease)
            {
                running.Add(Run(lease, stopping));
                continue;
            }
            try
            {
                await Task.WhenAny(running.Append(Task.Delay(_options.PollInterval, stopping)));
            }
            catch (OperationCanceledException) { }
        }
        // Jobs see the cancellation; a fit that does not stop in time is abandoned with the process, and its job
        // runs again elsewhere once the cluster has declared this silo dead.
        await Task.WhenAny(Task.WhenAll(running), Task.Delay(TimeSpan.FromSeconds(10)));
    }

    static async Task<bool> WaitForStart(IHostApplicationLifetime lifetime, CancellationToken stopping)
    {
        var started = new TaskCompletionSource();
        using var a = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        using var b = stopping.Register(() => started.TrySetResult());
        await started.Task;
        return !stopping.IsCancellationRequested;
    }

    async Task<JobLease?> NextJob(CancellationToken stopping)
    {
        try
        {
            foreach (var sweepId in await grains.GetGrain<ISweepBoardGrain>(ISweepBoardGrain.Key).Open())
            {
                if (stopping.IsCancellationRequested) return null;
                var lease = await grains.GetGrain<ISweepGrain>(sweepId).Claim(Silo, _claimToken);
                _claimToken = NewToken(); // answered: the next claim is a new one
                if (lease is not null) return lease;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The cluster is changing (a silo died, a grain is moving): ask again at the next poll.
            logger.LogWarning("silo {Silo}: asking for work failed: {Error}", Silo, e.Message);
        }
        return null;
    }

    async Task Run(JobLease lease, CancellationToken stopping)
    {
        int now = Interlocked.Increment(ref _running);
        Interlocked.Increment(ref _started);
        InterlockedMax(ref _maxRunning, now);
        try
        {
            var job = lease.Spec;
            logger.LogInformation("silo {Silo}: job {Label} ({Folder}), attempt {Attempt}", Silo, job.Label, job.Folder, lease.Attempt);
            var context = new JobRunContext(Silo, lease.Attempt, _options.ThreadsPerJob, stopping);
            var outcome = await _threads!.Run(() => executor.Run(job, context));
            if (stopping.IsCancellationRequested) return; // the job was interrupted: it will be run again
            await Report(lease, outcome, stopping);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    async Task Report(JobLease lease, JobOutcome outcome, CancellationToken stopping)
    {
        var deadline = DateTime.UtcNow + _options.ReportTimeout;
        var wait = TimeSpan.FromMilliseconds(200);
        for (int attempt = 1; attempt <= 50 && !stopping.IsCancellationRequested; attempt++)
        {
            try
            {
                bool accepted = await grains.GetGrain<ISweepGrain>(lease.SweepId).Complete(lease.Spec.GrainKey, lease.Attempt, outcome);
                if (!accepted)
                    logger.LogInformation("silo {Silo}: job {Folder} attempt {Attempt} was taken over; its outcome is not recorded", Silo, lease.Spec.Folder, lease.Attempt);
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                if (DateTime.UtcNow >= deadline)
                {
                    logger.LogError("silo {Silo}: could not record job {Folder} for {Timeout}: {Error}", Silo, lease.Spec.Folder, _options.ReportTimeout, e.Message);
                    return;
                }
                logger.LogWarning("silo {Silo}: recording job {Folder} failed ({Error}); retrying", Silo, lease.Spec.Folder, e.Message);
                await Task.Delay(wait, CancellationToken.None);
                wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    static string NewToken() => Guid.NewGuid().ToString("N");

    static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current) { }
    }
}
