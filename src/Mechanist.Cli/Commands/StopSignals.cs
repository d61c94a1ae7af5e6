using System.Runtime.InteropServices;

namespace Mechanist.Cli.Commands;

/// <summary>
/// Ctrl-C and SIGTERM cancel <see cref="Token"/> once, so a training run stops at its next boundary after writing a
/// checkpoint; a second signal is not intercepted (it ends the process as usual).
/// </summary>
sealed class StopSignals : IDisposable
{
    readonly CancellationTokenSource _cancel = new();
    readonly PosixSignalRegistration _sigint, _sigterm;

    public StopSignals()
    {
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    public CancellationToken Token => _cancel.Token;

    public bool Requested => _cancel.IsCancellationRequested;

    void OnSignal(PosixSignalContext context)
    {
        if (_cancel.IsCancellationRequested) return;
        context.Cancel = true;
        _cancel.Cancel();
    }

    public void Dispose()
    {
        _sigint.Dispose();
        _sigterm.Dispose();
        _cancel.Dispose();
    }
}
