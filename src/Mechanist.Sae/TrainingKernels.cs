namespace Mechanist.Sae;

/// <summary>
/// Whether the SAE trainer uses its CPU kernels (blocked TopK encoder, sparse gather/scatter, fused optimiser step)
/// or plain libtorch ops, which is what runs on a GPU and what the kernels are tested against. Per thread, so
/// tests comparing the two can run in parallel.
/// </summary>
public static class TrainingKernels
{
    [ThreadStatic] static bool t_torchOpsOnly;

    /// <summary>Whether the CPU kernels may run on the calling thread.</summary>
    public static bool Enabled => !t_torchOpsOnly;

    /// <summary>Until disposed, training on this thread uses libtorch ops only (the reference path).</summary>
    public static IDisposable TorchOpsOnly()
    {
        bool previous = t_torchOpsOnly;
        t_torchOpsOnly = true;
        return new Restore(() => t_torchOpsOnly = previous);
    }

    sealed class Restore(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
