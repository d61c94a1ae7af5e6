using Mechanist.Options;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;

namespace Mechanist;

/// <summary>
/// What every method's entry point receives besides its data: device, typed options, seed, progress, logger and
/// cancellation. Each extension point derives its own context with the data it works on.
/// </summary>
public abstract class MethodContext
{
    /// <summary>The device every tensor the method creates should live on.</summary>
    public torch.Device Device { get; init; } = torch.CPU;

    /// <summary>The options bound for this run (the method's own <c>TOptions</c> record).</summary>
    public required MethodOptions Options { get; init; }

    /// <summary>Seed for every random choice the method makes; same seed, same result.</summary>
    public int Seed { get; init; }

    public ILogger Logger { get; init; } = NullLogger.Instance;

    public IProgress<ProgressReport>? Progress { get; init; }

    public CancellationToken CancellationToken { get; init; }

    /// <summary>The options as the method's own record type.</summary>
    public TOptions GetOptions<TOptions>() where TOptions : MethodOptions =>
        Options as TOptions ?? throw new InvalidOperationException(
            $"options are {Options.GetType().Name}, the method expects {typeof(TOptions).Name}");

    /// <summary>A generator seeded with <see cref="Seed"/>, on <see cref="Device"/>.</summary>
    public torch.Generator CreateGenerator() => new torch.Generator((ulong)Seed, Device);
}

/// <summary>A progress report: a step out of a total and named scalar values (loss, FVU, …).</summary>
public sealed record ProgressReport(long Step, long Total, IReadOnlyDictionary<string, double> Values);
