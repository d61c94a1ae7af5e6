using System.Security.Cryptography;
using System.Text;
using Mechanist.Sweeps.Grains;
using Mechanist.Sweeps.Planning;

namespace Mechanist.Sweeps.Running;

/// <summary>
/// Submits a sweep's jobs to the cluster and follows it until every job has finished: polls the sweep's progress,
/// rides out a moving sweep grain (its silo died) with bounded retries, then returns every job's record and takes the
/// sweep off the board.
/// </summary>
public sealed class SweepCoordinator(IGrainFactory grains)
{
    /// <summary>How often progress is polled.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long the cluster may stay unreachable (consecutive failed polls) before the sweep gives up.</summary>
    public TimeSpan UnreachableLimit { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How many silos a job may lose before it fails.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>
    /// The sweep's key: its output folder and the identities of all its jobs (finished ones included), so that a rerun
    /// of the same sweep — after the command was stopped, with some jobs finished since — finds the same sweep grain.
    /// </summary>
    public static string SweepId(string outputRoot, IEnumerable<JobSpec> jobs)
    {
        var text = Path.GetFullPath(outputRoot) + "\n" + string.Join('\n', jobs.Select(j => j.Id).Order(StringComparer.Ordinal));
        return "sweep-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32];
    }

    /// <summary>Opens sweep <paramref name="sweepId"/> with <paramref name="jobs"/> (those still to run) and follows it to the end.</summary>
    public async Task<IReadOnlyList<JobView>> Run(string sweepId, IReadOnlyList<JobSpec> jobs, IProgress<SweepProgress>? progress,
        TimeSpan? timeout, CancellationToken cancellation)
    {
        var sweep = grains.GetGrain<ISweepGrain>(sweepId);
        var runId = Guid.NewGuid().ToString("N"); // a retried Open of this run must not submit finished jobs again
        await Retry(() => sweep.Open(jobs.ToList(), MaxAttempts, runId), cancellation);
        var deadline = timeout is { } t ? DateTime.UtcNow + t : DateTime.MaxValue;
        while (true)
        {
            var p = await Retry(() => sweep.Progress(), cancellation);
            progress?.Report(p);
            if (p.IsComplete) break;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"the sweep did not finish within {timeout}: {p.Finished} of {p.Total} jobs finished, {p.Running} running, {p.Pending} pending.");
            await Task.Delay(PollInterval, cancellation);
        }
        var views = await Retry(() => sweep.Jobs(), cancellation);
        await Retry(() => sweep.Close(), cancellation);
        return views;
    }

    async Task<T> Retry<T>(Func<Task<T>> call, CancellationToken cancellation)
    {
        var until = DateTime.UtcNow + UnreachableLimit;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (Exception e) when (e is not OutOfMemoryException && e is not OperationCanceledException && DateTime.UtcNow < until && attempt < 1000)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(250 * attempt, 2000)), cancellation);
            }
        }
    }

    Task Retry(Func<Task> call, CancellationToken cancellation) => Retry(async () => { await call(); return true; }, cancellation);
}
