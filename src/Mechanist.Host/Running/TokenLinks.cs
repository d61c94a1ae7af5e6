namespace Mechanist.Host.Running;

/// <summary>Linked cancellation tokens for method contexts (the caller's and a run's own), disposed together.</summary>
public sealed class TokenLinks : IDisposable
{
    readonly List<CancellationTokenSource> _sources = [];

    /// <summary>A token cancelled when either <paramref name="a"/> or <paramref name="b"/> is.</summary>
    public CancellationToken Link(CancellationToken a, CancellationToken b)
    {
        if (!a.CanBeCanceled) return b;
        if (!b.CanBeCanceled) return a;
        var source = CancellationTokenSource.CreateLinkedTokenSource(a, b);
        lock (_sources) _sources.Add(source);
        return source.Token;
    }

    public void Dispose()
    {
        lock (_sources)
        {
            foreach (var s in _sources) s.Dispose();
            _sources.Clear();
        }
    }
}
