using Mechanist.Sweeps.Grains;
using Mechanist.Sweeps.Planning;
using Mechanist.Sweeps.Running;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Mechanist.Sweeps;

/// <summary>The three ways a process takes part in a sweep: embedded silo, cluster client, or worker silo.</summary>
public static class SweepRuntime
{
    /// <summary>Runs the jobs on a silo inside this process (localhost clustering on free ports, records in memory).</summary>
    public static async Task<IReadOnlyList<JobView>> RunEmbedded(string sweepId, IReadOnlyList<JobSpec> jobs, SweepWorkerOptions worker,
        IProgress<SweepProgress>? progress, TimeSpan? timeout, LogLevel logLevel, CancellationToken cancellation)
    {
        var cluster = new SweepClusterOptions
        {
            ClusterId = "embedded-" + Guid.NewGuid().ToString("N")[..8], SiloPort = SweepClusterOptions.FreePort(), GatewayPort = SweepClusterOptions.FreePort(),
        };
        var builder = Builder(logLevel);
        builder.UseOrleans(silo => silo.AddSweeps(cluster, worker));
        using var host = builder.Build();
        await host.StartAsync(cancellation);
        try
        {
            return await new SweepCoordinator(host.Services.GetRequiredService<IGrainFactory>())
                .Run(sweepId, jobs, progress, timeout, cancellation);
        }
        finally
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await host.StopAsync(stop.Token);
        }
    }

    /// <summary>Submits the jobs to a Redis-clustered set of silos as a client and follows them to the end.</summary>
    public static async Task<IReadOnlyList<JobView>> RunOnCluster(string sweepId, IReadOnlyList<JobSpec> jobs, SweepClusterOptions cluster,
        IProgress<SweepProgress>? progress, TimeSpan? timeout, LogLevel logLevel, CancellationToken cancellation)
    {
        var builder = Builder(logLevel);
        builder.UseOrleansClient(client => client.AddSweeps(cluster));
        using var host = builder.Build();
        try
        {
            await host.StartAsync(cancellation);
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            throw new MechanistInputException($"cluster {cluster.Redis}: cannot join ({Reason(e, cluster)}). Is Redis running there, and has a 'mechanist silo --cluster {cluster.Redis}' started?", e);
        }
        try
        {
            return await new SweepCoordinator(host.Services.GetRequiredService<IGrainFactory>())
                .Run(sweepId, jobs, progress, timeout, cancellation);
        }
        finally
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await host.StopAsync(stop.Token);
        }
    }

    /// <summary>A worker silo of a Redis cluster, until <paramref name="cancellation"/>; <paramref name="started"/> runs once it has joined.</summary>
    public static async Task RunSilo(SweepClusterOptions cluster, SweepWorkerOptions worker, Action<string> started, LogLevel logLevel,
        CancellationToken cancellation)
    {
        var builder = Builder(logLevel);
        builder.UseOrleans(silo => silo.AddSweeps(cluster, worker));
        using var host = builder.Build();
        try
        {
            await host.StartAsync(cancellation);
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            throw new MechanistInputException($"cluster {cluster.Redis}: the silo could not start ({Reason(e, cluster)}).", e);
        }
        started(host.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToString());
        try
        {
            await Task.Delay(Timeout.Infinite, cancellation);
        }
        catch (OperationCanceledException) { }
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await host.StopAsync(stop.Token);
    }

    /// <summary>Why joining failed, in a few words (the full exception is in the log with --verbose).</summary>
    static string Reason(Exception e, SweepClusterOptions cluster)
    {
        var root = e.GetBaseException();
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is StackExchange.Redis.RedisConnectionException)
                return $"cannot connect to Redis at {cluster.Redis!.Host}:{cluster.Redis.Port}";
        var message = root.Message.Split('\n')[0];
        return message.Length > 200 ? message[..200] + "…" : message;
    }

    static HostApplicationBuilder Builder(LogLevel logLevel)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        // Orleans reports a dead silo, a lost connection or a failed start at length; what matters to the user is said by
        // the sweep in one line. --verbose shows Orleans' own log.
        bool verbose = logLevel <= LogLevel.Information;
        builder.Logging.SetMinimumLevel(verbose ? LogLevel.Warning : LogLevel.Critical);
        builder.Logging.AddFilter("Mechanist", logLevel);
        builder.Logging.AddFilter("Orleans", verbose ? LogLevel.Warning : LogLevel.Critical);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        return builder;
    }
}
