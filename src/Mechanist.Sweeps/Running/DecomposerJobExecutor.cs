using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Decomposers;
using Mechanist.Host;
using Mechanist.Host.Activations;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Host.Reports;
using Mechanist.Host.Running;
using Mechanist.IO;
using Mechanist.Methods.Evaluation;
using Mechanist.Options;
using Mechanist.Sweeps.Planning;
using static TorchSharp.torch;

namespace Mechanist.Sweeps.Running;

/// <summary>
/// A job as <c>mechanist compare</c> runs each method: bind the options, fit on the job's site with its seed, compute
/// the same metrics, and write the SAELens folder with <c>metrics.json</c> and <c>job.json</c> (the results row) in
/// one rename. Methods that checkpoint get a checkpoint folder per job, so a job killed half-way resumes from its
/// latest checkpoint on whichever silo runs it next; the folder is removed once the job's outputs are in place.
/// </summary>
public sealed class DecomposerJobExecutor : IJobExecutor, IDisposable
{
    readonly Dictionary<string, MechanistHost> _hosts = [];
    readonly Lock _lock = new();

    public JobOutcome Run(JobSpec job, JobRunContext context)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            // libtorch keeps the intra-op thread count per thread (a new thread starts from the last value set): each
            // slot's thread sets its own, and each job's parallel regions get a team of that size (J jobs use J x T).
            set_num_threads(context.Threads);
            var row = Fit(job, context);
            return new JobOutcome { Succeeded = true, Row = row.ToJsonString(), Silo = context.Silo, WallSeconds = watch.Elapsed.TotalSeconds };
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var message = e switch
            {
                MethodFailedException f => f.ToFinding().ToString(),
                MechanistInputException => e.Message,
                _ => $"{e.GetType().Name}: {e.Message}",
            };
            return JobOutcome.Failure(message, context.Silo, watch.Elapsed.TotalSeconds);
        }
    }

    JsonObject Fit(JobSpec job, JobRunContext run)
    {
        using var scope = NewDisposeScope();
        var host = Host(job.Plugins);
        var entry = host.Catalog.Resolve(job.Method, MethodKind.Decomposer);
        var names = entry.Descriptor.Options.Select(o => o.Name).ToHashSet();
        var settings = new Dictionary<string, string>(job.Settings);
        bool checkpointing = job.CheckpointEvery > 0 && names.Contains("checkpoint_every") && names.Contains("checkpoint_dir")
            && !settings.ContainsKey("checkpoint_every");
        long? resumedFrom = null;
        if (checkpointing)
        {
            settings["checkpoint_every"] = job.CheckpointEvery.ToString(CultureInfo.InvariantCulture);
            settings["checkpoint_dir"] = job.CheckpointFolder;
            resumedFrom = LatestCheckpoint(job.CheckpointFolder);
        }
        var options = MethodCatalog.BindOptions(entry, settings);
        var device = ParseDevice(job.Device);

        var activations = ActivationSources.Open(job.Activations, job.Site);
        using var ownedActivations = activations as IDisposable;
        var targets = job.Targets is { } t ? ActivationSources.Open(t) : null;
        using var ownedTargets = targets as IDisposable;
        if (targets is not null && targets.Count != activations.Count)
            throw new MechanistInputException($"{job.Targets}: has {targets.Count} rows but the activations have {activations.Count}; targets must be row-aligned.");
        using var truth = job.GroundTruth is { } g ? LoadGroundTruth(g, (targets ?? activations).Dimension) : null;

        var decomposer = MethodCatalog.Create<Decomposer>(entry, host.Services);
        var context = new DecomposeContext
        {
            Activations = activations, Targets = targets, Options = options, Seed = job.Seed, Device = device,
            HookName = ActivationSources.SiteName(activations, job.Site), CancellationToken = run.Cancellation,
        };
        var watch = Stopwatch.StartNew();
        using var decomposition = MethodInvoker.Invoke(entry, () => decomposer.Fit(context));
        double fitSeconds = watch.Elapsed.TotalSeconds;
        var bound = entry.Descriptor.Options.Where(o => !JobIdentity.IsRunControl(o.Name))
            .ToDictionary(o => o.Name, o => OptionSchema.FormatValue(o.Property.GetValue(options)));
        decomposition.Metadata = new DecompositionMetadata { Method = entry.Id, Seed = job.Seed, HookName = context.HookName, Options = bound };
        var metrics = DecompositionMetrics.Compute(decomposition, activations, truth, device: device,
            targets: decomposition.ReconstructsTargets ? targets : null, cancellation: run.Cancellation);

        var row = ComparisonReport.Row(entry.Id, entry.Source, decomposition.Architecture, decomposition.DSae, bound, metrics, fitSeconds,
            PeakRss(), "VmHWM of the process that ran the job (not reset: includes earlier and concurrent jobs on that silo)",
            folder: $"{SweepLayout.JobsFolder}/{job.Folder}",
            extra:
            [
                new("job", job.Id), new("label", job.Label), new("site", job.Site), new("seed", job.Seed), new("device", job.Device),
                new("silo", run.Silo), new("attempt", run.Attempt), new("resumed_from_step", resumedFrom is long s ? JsonValue.Create(s) : null),
            ]);
        var metricsJson = ComparisonReport.Metrics(metrics);
        metricsJson["definitions"] = ComparisonReport.Definitions();
        var indented = new JsonSerializerOptions { WriteIndented = true };
        DecompositionFolder.Save(job.OutputFolder, decomposition, new Dictionary<string, string>
        {
            [SweepLayout.MetricsFile] = metricsJson.ToJsonString(indented) + "\n",
            [SweepLayout.JobFile] = new JsonObject { ["spec"] = JsonSerializer.SerializeToNode(job), ["row"] = row.DeepClone() }.ToJsonString(indented) + "\n",
        });
        if (checkpointing && Directory.Exists(job.CheckpointFolder)) Directory.Delete(job.CheckpointFolder, recursive: true);
        return row;
    }

    MechanistHost Host(string[] plugins)
    {
        var key = string.Join('\n', plugins);
        lock (_lock)
        {
            if (!_hosts.TryGetValue(key, out var host)) _hosts[key] = host = MechanistHost.Create(plugins);
            return host;
        }
    }

    static long? LatestCheckpoint(string folder) =>
        Directory.Exists(folder)
            ? Directory.GetDirectories(folder, "step-*")
                .Select(d => long.TryParse(Path.GetFileName(d).AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : (long?)null)
                .Max()
            : null;

    static Device ParseDevice(string text) => text switch
    {
        "cpu" => CPU,
        "cuda" => CUDA,
        _ when text.StartsWith("cuda:", StringComparison.Ordinal) => new Device(TorchSharp.DeviceType.CUDA, int.Parse(text[5..], CultureInfo.InvariantCulture)),
        _ => throw new MechanistInputException($"device '{text}': expected cpu, cuda or cuda:N."),
    };

    static Tensor LoadGroundTruth(string path, int dimension)
    {
        var header = Safetensors.ReadHeader(path);
        var entry = header.Require("directions");
        if (entry.Shape.Length != 2 || entry.Shape[1] != dimension || entry.Shape[0] == 0)
            throw new MechanistInputException($"{path}: tensor 'directions' has shape [{string.Join(", ", entry.Shape)}]; expected [n, {dimension}].");
        var t = Safetensors.ReadTensor(header, "directions").to(ScalarType.Float32);
        ActivationFiles.EnsureFinite(path, "directions", t);
        return t.MoveToOuterDisposeScope();
    }

    static long PeakRss()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return Environment.WorkingSet;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var host in _hosts.Values) host.Dispose();
            _hosts.Clear();
        }
    }
}
