using Mechanist.Sweeps.Running;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace Mechanist.Sweeps;

/// <summary>Orleans configuration of sweep silos and clients, embedded or Redis-clustered.</summary>
public static class SweepHosting
{
    /// <summary>
    /// A silo that runs sweep jobs: clustering and grain storage (memory, or Redis when
    /// <see cref="SweepClusterOptions.Redis"/> is set), the worker with <paramref name="worker"/>'s slots, and the job
    /// executor (the real one unless one is registered already).
    /// </summary>
    public static ISiloBuilder AddSweeps(this ISiloBuilder silo, SweepClusterOptions cluster, SweepWorkerOptions worker)
    {
        if (cluster.Redis is { } redis)
        {
            var redisOptions = redis.ToRedisOptions();
            silo.UseRedisClustering(o => o.ConfigurationOptions = redisOptions.Clone());
            silo.AddRedisGrainStorage(Grains.SweepStorage.Name, o => o.ConfigurationOptions = redisOptions.Clone());
            silo.Configure<ClusterOptions>(o => { o.ClusterId = cluster.ClusterId; o.ServiceId = cluster.ServiceId; });
            silo.ConfigureEndpoints(cluster.AdvertisedAddress, cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: true);
        }
        else
        {
            silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort, null, cluster.ServiceId, cluster.ClusterId);
            silo.AddMemoryGrainStorage(Grains.SweepStorage.Name);
        }
        silo.Configure<ClusterMembershipOptions>(ConfigureMembership);
        return silo.AddSweepWorker(worker);
    }

    /// <summary>
    /// The sweep grains' worker on a silo whose clustering and <see cref="Grains.SweepStorage.Name"/> grain storage are
    /// configured elsewhere (a test cluster), with the real job executor unless one is registered already.
    /// </summary>
    public static ISiloBuilder AddSweepWorker(this ISiloBuilder silo, SweepWorkerOptions worker)
    {
        silo.Services.Configure<SweepWorkerOptions>(o =>
        {
            o.Slots = worker.Slots;
            o.ThreadsPerJob = worker.ThreadsPerJob;
            o.PollInterval = worker.PollInterval;
            o.ReportTimeout = worker.ReportTimeout;
        });
        silo.Services.TryAddSingleton<IJobExecutor, DecomposerJobExecutor>();
        silo.Services.AddSingleton<SweepWorker>();
        silo.Services.AddHostedService(sp => sp.GetRequiredService<SweepWorker>());
        return silo;
    }

    /// <summary>A client of a Redis-clustered sweep cluster (the <c>sweep</c> command when the silos are elsewhere).</summary>
    public static IClientBuilder AddSweeps(this IClientBuilder client, SweepClusterOptions cluster)
    {
        var redis = cluster.Redis ?? throw new ArgumentException("a client needs the cluster's Redis address", nameof(cluster));
        var redisOptions = redis.ToRedisOptions();
        client.UseRedisClustering(o => o.ConfigurationOptions = redisOptions.Clone());
        client.Configure<ClusterOptions>(o => { o.ClusterId = cluster.ClusterId; o.ServiceId = cluster.ServiceId; });
        return client;
    }

    /// <summary>
    /// Failure detection: a silo that misses three probes of three seconds is suspected, and declared dead with a
    /// second vote, so a dead worker's jobs go back to pending within tens of seconds. Probes are answered from the
    /// thread pool, which jobs never occupy, so a busy silo is not mistaken for a dead one.
    /// </summary>
    public static void ConfigureMembership(ClusterMembershipOptions o)
    {
        o.ProbeTimeout = TimeSpan.FromSeconds(3);
        o.NumMissedProbesLimit = 3;
        o.TableRefreshTimeout = TimeSpan.FromSeconds(10);
    }
}
