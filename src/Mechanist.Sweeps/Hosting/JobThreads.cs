using System.Collections.Concurrent;
using Mechanist.Sweeps.Planning;

namespace Mechanist.Sweeps;

/// <summary>
/// One long-lived dedicated thread per job slot. Jobs never run on the .NET thread pool (Orleans' scheduler and its
/// failure detector live there), and a slot's thread keeps its libtorch/OpenMP settings and its allocator arena warm
/// from one job to the next instead of starting cold on a fresh thread each time.
/// </summary>
sealed class JobThreads : IDisposable
{
    readonly BlockingCollection<(Func<JobOutcome> Work, TaskCompletionSource<JobOutcome> Done)> _queue = new();

    public JobThreads(int count, string name)
    {
        for (int i = 0; i < count; i++)
            new Thread(Loop) { IsBackground = true, Name = $"{name} {i}" }.Start();
    }

    /// <summary>Runs <paramref name="work"/> on the next free slot thread.</summary>
    public Task<JobOutcome> Run(Func<JobOutcome> work)
    {
        var done = new TaskCompletionSource<JobOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Add((work, done));
        return done.Task;
    }

    void Loop()
    {
        foreach (var (work, done) in _queue.GetConsumingEnumerable())
        {
            try { done.SetResult(work()); }
            catch (Exception e) { done.SetException(e); }
        }
    }

    public void Dispose() => _queue.CompleteAdding();
}
