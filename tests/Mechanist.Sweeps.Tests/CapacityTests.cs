using static TorchSharp.torch;

namespace Mechanist.Sweeps.Tests;

/// <summary>How a silo's cores are split into job slots and libtorch threads per job.</summary>
[Collection(SweepCollection.Name)]
public sealed class CapacityTests
{
    [Theory]
    [InlineData(2, null, null, 2, 1)]   // one job per core, one thread each
    [InlineData(16, null, 4, 4, 4)]     // threads given: as many jobs as fit
    [InlineData(16, 2, null, 2, 8)]     // jobs given: the cores shared among them
    [InlineData(2, null, 8, 1, 8)]      // more threads than cores: still one job
    [InlineData(1, 3, 2, 3, 2)]         // both given: as asked
    public void Slots_times_threads_fill_the_cores(int cores, int? slots, int? threads, int expectedSlots, int expectedThreads) =>
        Assert.Equal((expectedSlots, expectedThreads), SweepWorkerOptions.ForCores(cores, slots, threads));

    /// <summary>
    /// libtorch keeps the intra-op thread count per thread (OpenMP's per-thread setting; a new thread starts from the
    /// last value set anywhere): a slot's thread sets threads-per-job for itself, and a thread that already has its own
    /// count (Orleans', the caller's) keeps it.
    /// </summary>
    [Fact]
    public void A_slot_threads_libtorch_thread_count_is_its_own()
    {
        int before = get_num_threads();
        try
        {
            int onJobThread = 0;
            var job = new Thread(() =>
            {
                set_num_threads(1);
                onJobThread = get_num_threads();
            });
            job.Start();
            job.Join();
            Assert.Equal(1, onJobThread);
            Assert.Equal(before, get_num_threads());
        }
        finally
        {
            set_num_threads(before);
        }
    }
}
