using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.Reports.Html;
using Mechanist.Reports.Plots;
using Mechanist.Host.Activations;
using Mechanist.Host.Reports;
using Mechanist.Host.Formats;
using Mechanist.IO;
using Mechanist.Sweeps;
using Mechanist.Sweeps.Grains;
using Mechanist.Sweeps.Planning;
using Mechanist.Sweeps.Running;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist sweep SWEEP.json</c>: a grid of decomposer fits (methods × options × sites × seeds, harvesting first
/// when the sweep names a model) run as Orleans grains — on a silo inside this process by default, on Redis-clustered
/// <c>mechanist silo</c> processes with <c>--cluster</c>. Finished jobs are skipped on a rerun; the results are
/// <c>compare</c>'s: one SAELens folder per job, <c>results.json</c>, <c>report.html</c> with the Pareto figures, and the console table.
/// </summary>
public sealed class SweepCommand : ICommand
{
    public string Name => "sweep";
    public string Summary => "a grid of fits (methods x options x sites x seeds) on an embedded Orleans silo or a Redis cluster; resumable";
    public string Usage => "SWEEP.json [--out DIR] [--cluster redis://HOST:PORT] [--cluster-id ID] [--jobs N] [--threads-per-job T] [--max-attempts N] [--timeout-minutes M] [--format text|json]";
    public int MaxPositionals => 1;
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("out", "output folder (default: the sweep file's 'out'); every silo must reach it at the same path", ValueName: "DIR"),
        new("cluster", "run on the silos of this cluster (default: the sweep file's 'cluster', else an embedded silo)", ValueName: "redis://HOST:PORT"),
        new("cluster-id", "the cluster's ID, as given to its silos (default mechanist)", ValueName: "ID"),
        new("jobs", "embedded: jobs at once (default: cores / threads per job)", ValueName: "N"),
        new("threads-per-job", "embedded: libtorch threads per job (default 1, or cores / jobs)", ValueName: "T"),
        new("max-attempts", "how many silos a job may lose before it fails (default 3)", ValueName: "N"),
        new("timeout-minutes", "give up (exit 1) when the sweep has not finished by then (default: no limit)", ValueName: "M"),
        CommonOptions.Format, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        if (args.Positionals.Count == 0) throw new UsageException("'sweep' needs the sweep file: mechanist sweep SWEEP.json. See 'mechanist sweep --help'.");
        var sweep = SweepFile.Read(args.Positionals[0]);
        var outRoot = args.Get("out") is { } o ? Path.GetFullPath(o) : sweep.Out
            ?? throw new UsageException($"{args.Positionals[0]}: no output folder: give 'out' in the sweep file or --out DIR.");
        var clusterText = args.Get("cluster") ?? sweep.Cluster;
        var cluster = clusterText is null ? null : ClusterAddress.Parse(clusterText, args.Has("cluster") ? "--cluster" : $"{args.Positionals[0]}: 'cluster'");
        var format = args.GetChoice("format", "text", "text", "json");
        int? jobsAtOnce = args.Has("jobs") ? args.GetInt("jobs", 1) : null;
        int? threads = args.Has("threads-per-job") ? args.GetInt("threads-per-job", 1) : null;
        if (jobsAtOnce is < 1) throw new UsageException($"option '--jobs' must be at least 1, got {jobsAtOnce}.");
        if (threads is < 1) throw new UsageException($"option '--threads-per-job' must be at least 1, got {threads}.");
        if (cluster is not null && (jobsAtOnce is not null || threads is not null))
            throw new UsageException("--jobs and --threads-per-job size the embedded silo; on a cluster each 'mechanist silo' sets its own.");
        int maxAttempts = args.GetInt("max-attempts", 3);
        if (maxAttempts < 1) throw new UsageException($"option '--max-attempts' must be at least 1, got {maxAttempts}.");
        double timeoutMinutes = args.GetDouble("timeout-minutes", 0);
        if (timeoutMinutes < 0) throw new UsageException($"option '--timeout-minutes' must be positive, got {timeoutMinutes}.");
        var device = ResolveDevice(sweep.Device);

        using var host = Host.MechanistHost.Create(sweep.Plugins);
        foreach (var finding in host.Catalog.LoadFindings) env.Error.WriteLine(finding.ToString());
        SweepPlanner.Expand(sweep, host.Catalog); // every method and option checked before anything is read or written
        var hashes = new InputHashes();
        var activations = sweep.Activations is { } a ? a
            : SweepHarvest.Ensure(sweep.Harvest!, outRoot, host, device.StartsWith("cuda", StringComparison.Ordinal) ? CUDA : CPU, hashes,
                new ThrottledProgress(env.Error, "harvest", "tokens"));
        CheckInputs(sweep, activations);
        var jobs = SweepPlanner.Plan(sweep, host.Catalog, activations, outRoot, device, hashes);
        var toRun = jobs.Where(j => SweepResults.FinishedRow(j) is null).ToList();

        var (slots, threadsPerJob) = SweepWorkerOptions.ForCores(Environment.ProcessorCount, jobsAtOnce, threads);
        string mode = cluster is null ? $"embedded silo, {slots} job(s) x {threadsPerJob} thread(s)" : $"cluster {cluster}";
        env.Error.WriteLine($"sweep: {jobs.Count} job(s), {jobs.Count - toRun.Count} finished earlier, {toRun.Count} to run on {mode} -> {outRoot}");

        IReadOnlyList<JobView> views = [];
        if (toRun.Count > 0)
        {
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
            Console.CancelKeyPress += onCancel;
            var printer = new SweepProgressPrinter(env.Error, toRun.ToDictionary(j => j.Id, j => j.Label));
            TimeSpan? timeout = timeoutMinutes > 0 ? TimeSpan.FromMinutes(timeoutMinutes) : null;
            var logLevel = env.Verbose ? LogLevel.Information : LogLevel.Warning;
            try
            {
                views = cluster is null
                    ? SweepRuntime.RunEmbedded(SweepCoordinator.SweepId(outRoot, jobs), toRun, new SweepWorkerOptions { Slots = slots, ThreadsPerJob = threadsPerJob },
                        printer, timeout, logLevel, cancel.Token).GetAwaiter().GetResult()
                    : SweepRuntime.RunOnCluster(SweepCoordinator.SweepId(outRoot, jobs), toRun, new SweepClusterOptions { Redis = cluster, ClusterId = args.Get("cluster-id") ?? "mechanist" },
                        printer, timeout, logLevel, cancel.Token).GetAwaiter().GetResult();
            }
            catch (TimeoutException e)
            {
                env.Error.WriteLine($"mechanist: error: {e.Message} Rerun the same sweep to continue: finished jobs are kept.");
                return ExitCodes.ErrorFinding;
            }
            catch (OperationCanceledException)
            {
                env.Error.WriteLine("mechanist: sweep interrupted; finished jobs are kept and a rerun continues from there.");
                return ExitCodes.ErrorFinding;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        }

        var results = SweepResults.Collect(jobs, views.ToDictionary(v => v.Id));
        var json = results.ToJson(sweep, outRoot, jobs, cluster is null ? "embedded" : "cluster");
        results.Write(outRoot, json, ReportFiles(results, json));

        if (format == "json") env.Out.WriteLine(json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        else
        {
            if (results.Rows.Count > 0) ComparisonReport.WriteTable(env.Out, results.Rows, r => r["label"]!.GetValue<string>(), "job");
            foreach (var f in results.Failures) env.Out.WriteLine($"FAILED {f["label"]}: {f["error"]}");
            env.Out.WriteLine($"-> {outRoot} ({SweepLayout.ResultsFile}, {SweepLayout.ReportFile}, pareto .png and .svg, one SAELens folder per job under {SweepLayout.JobsFolder}/)");
        }
        env.Error.WriteLine($"sweep: {results.Rows.Count} succeeded, {results.Failures.Count} failed of {jobs.Count}");
        return results.Failures.Count == 0 ? ExitCodes.Ok : ExitCodes.ErrorFinding;
    }

    /// <summary>Compare's report and Pareto figures over every finished job, one point per job.</summary>
    static List<(string Name, byte[] Content)> ReportFiles(SweepResults results, JsonObject json)
    {
        var methods = results.Rows.Select(r => new CompareFigures.Method(r["label"]!.GetValue<string>(),
            (r["metrics"] as JsonObject ?? []).Where(kv => kv.Value is JsonValue v && v.TryGetValue<double>(out _))
                .ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<double>()),
            null, null, 0)).ToList();
        var figures = CompareFigures.Build(methods);
        var page = (JsonObject)json.DeepClone();
        page["methods"] = new JsonArray(results.Rows.Select(r =>
        {
            var row = (JsonObject)r.DeepClone();
            row["method"] = r["label"]!.GetValue<string>();
            return (JsonNode)row;
        }).ToArray());
        var files = new List<(string, byte[])>();
        foreach (var (name, _, figure) in figures.Figures)
        {
            files.Add((name + ".png", figure.Png()));
            files.Add((name + ".svg", Encoding.UTF8.GetBytes(figure.Svg())));
        }
        var report = CompareReportPage.Render(page, figures.Figures.Select(f => new CompareReportPage.Plot(f.Name, f.Caption, f.Figure)).ToList(),
            figures.Notes, CliApp.Version);
        files.Add((SweepLayout.ReportFile, Encoding.UTF8.GetBytes(report)));
        return files;
    }

    static string ResolveDevice(string device)
    {
        if (device == "auto") return cuda.is_available() ? "cuda" : "cpu";
        if (device.StartsWith("cuda", StringComparison.Ordinal) && !cuda.is_available())
            throw new UsageException($"sweep 'device' is {device}, but CUDA is not available in this build or on this machine (use cpu or auto).");
        return device;
    }

    /// <summary>Every site opens, targets align and ground truth matches, before any job is submitted.</summary>
    static void CheckInputs(SweepDefinition sweep, string activations)
    {
        foreach (var site in sweep.Sites)
        {
            var source = ActivationSources.Open(activations, site);
            try
            {
                int dim = source.Dimension;
                if (sweep.Targets is { } t)
                {
                    var targets = ActivationSources.Open(t);
                    try
                    {
                        if (targets.Count != source.Count)
                            throw new MechanistInputException($"{t}: has {targets.Count} rows but the activations have {source.Count}; targets must be row-aligned.");
                        dim = targets.Dimension;
                    }
                    finally { (targets as IDisposable)?.Dispose(); }
                }
                if (sweep.GroundTruth is { } g) GroundTruth.Load(g, dim).Dispose();
            }
            finally { (source as IDisposable)?.Dispose(); }
        }
    }
}
