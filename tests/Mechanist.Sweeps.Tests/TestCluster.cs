using System.Collections.Concurrent;
using Mechanist.Sweeps.Grains;
using Mechanist.Sweeps.Planning;
using Mechanist.Sweeps.Running;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.TestingHost;

namespace Mechanist.Sweeps.Tests;

/// <summary>
/// An in-process Orleans cluster of several silos with the sweep worker, a scripted job executor, and grain storage
/// shared by all silos of the process (standing in for Redis: it outlives a killed silo, and checks ETags).
/// </summary>
static class TestCluster
{
    /// <summary>
    /// <paramref name="fastFailureDetection"/>: 1-second probes and one vote declare a silo dead (for the kill test);
    /// otherwise Orleans' defaults, so that a loaded machine does not get a slow silo declared dead.
    /// </summary>
    public static async Task<InProcessTestCluster> Start(short silos, int slots, bool fastFailureDetection = false)
    {
        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton<IJobExecutor, ScriptedExecutor>();
            silo.Services.AddKeyedSingleton<IGrainStorage>(SweepStorage.Name, (sp, _) => new SharedGrainStorage(sp.GetRequiredService<Serializer>()));
            if (fastFailureDetection)
                silo.Configure<ClusterMembershipOptions>(o =>
                {
                    o.ProbeTimeout = TimeSpan.FromSeconds(1);
                    o.NumMissedProbesLimit = 3;
                    o.NumVotesForDeathDeclaration = 1;
                });
            silo.AddSweepWorker(new SweepWorkerOptions { Slots = slots, PollInterval = TimeSpan.FromMilliseconds(50) });
        });
        var cluster = builder.Build();
        await cluster.DeployAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return cluster;
    }

    /// <summary>Jobs whose settings script the executor: <c>sleep_ms</c> and <c>fail</c>.</summary>
    public static List<JobSpec> Jobs(string root, int count, int sleepMs, params int[] failing) =>
        Enumerable.Range(0, count).Select(i =>
        {
            var id = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{root}/{i}")));
            var settings = new Dictionary<string, string> { ["sleep_ms"] = sleepMs.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            if (failing.Contains(i)) settings["fail"] = "true";
            return new JobSpec { Id = id, Folder = $"scripted-{id[..12]}", Label = $"job {i}", Method = "scripted", Settings = settings, OutputRoot = root };
        }).ToList();
}

/// <summary>Sleeps, then succeeds or fails as the job's settings say; records every run (silo, job, attempt).</summary>
sealed class ScriptedExecutor : IJobExecutor
{
    public static readonly ConcurrentQueue<(string Silo, string Job, int Attempt)> Runs = new();

    public JobOutcome Run(JobSpec job, JobRunContext context)
    {
        Runs.Enqueue((context.Silo, job.Id, context.Attempt));
        Thread.Sleep(int.Parse(job.Settings["sleep_ms"], System.Globalization.CultureInfo.InvariantCulture));
        return job.Settings.ContainsKey("fail")
            ? JobOutcome.Failure($"{job.Label}: scripted failure", context.Silo, 0)
            : new JobOutcome { Succeeded = true, Row = $"{{\"job\":\"{job.Id}\"}}", Silo = context.Silo };
    }
}

/// <summary>Grain storage in a process-wide dictionary: every silo of an in-process cluster sees the same records.</summary>
sealed class SharedGrainStorage(Serializer serializer) : IGrainStorage
{
    static readonly ConcurrentDictionary<string, (byte[] Data, string ETag)> Store = new();

    static string Key(string stateName, GrainId id) => $"{stateName}/{id}";

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (Store.TryGetValue(Key(stateName, grainId), out var entry))
        {
            grainState.State = serializer.Deserialize<T>(entry.Data);
            grainState.ETag = entry.ETag;
            grainState.RecordExists = true;
        }
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = Key(stateName, grainId);
        var etag = Guid.NewGuid().ToString("N");
        var data = serializer.SerializeToArray(grainState.State);
        lock (Store)
        {
            var current = Store.TryGetValue(key, out var e) ? e.ETag : null;
            if (current != grainState.ETag) throw new InconsistentStateException($"ETag {grainState.ETag} is stale (now {current})", grainState.ETag, current);
            Store[key] = (data, etag);
        }
        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        Store.TryRemove(Key(stateName, grainId), out _);
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }
}
