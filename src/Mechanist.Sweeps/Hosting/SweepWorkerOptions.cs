namespace Mechanist.Sweeps;

/// <summary>
/// A silo's capacity: how many jobs it runs at once (<see cref="Slots"/>) and how many libtorch threads each job
/// uses (<see cref="ThreadsPerJob"/>). <see cref="ForCores"/> sizes them to the machine.
/// </summary>
public sealed class SweepWorkerOptions
{
    public int Slots { get; set; } = 1;

    public int ThreadsPerJob { get; set; } = 1;

    /// <summary>How often an idle silo asks for work.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a silo keeps trying to record a finished job before it gives up (the job then runs again elsewhere only if the silo dies).</summary>
    public TimeSpan ReportTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Jobs × threads per job filling <paramref name="cores"/>: with <paramref name="threadsPerJob"/> given, as many
    /// jobs as fit (at least one); otherwise one thread per job and one job per core. Explicit <paramref name="slots"/> wins.
    /// </summary>
    public static (int Slots, int ThreadsPerJob) ForCores(int cores, int? slots, int? threadsPerJob)
    {
        cores = Math.Max(1, cores);
        int threads = threadsPerJob ?? (slots is int s ? Math.Max(1, cores / s) : 1);
        return (slots ?? Math.Max(1, cores / threads), threads);
    }
}
