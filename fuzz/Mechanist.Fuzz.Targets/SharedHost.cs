using Mechanist.Host;

namespace Mechanist.Fuzzing;

/// <summary>One host (built-in methods, no plugins) for every run of a process: discovering methods once, not per input.</summary>
public static class SharedHost
{
    static readonly Lazy<MechanistHost> Lazy = new(() => MechanistHost.Create([]));

    public static MechanistHost Instance => Lazy.Value;
}
