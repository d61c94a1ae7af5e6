namespace Mechanist.Sweeps.Planning;

/// <summary>
/// The folders of a sweep's output: <c>jobs/METHOD-HASH/</c> (one SAELens folder per finished job, with
/// <c>metrics.json</c> and <c>job.json</c>, renamed into place whole), <c>checkpoints/METHOD-HASH/</c> (trainer
/// checkpoints of unfinished jobs), <c>activations/HASH/</c> (harvested stores), and <c>results.json</c> /
/// <c>report.html</c> with <c>pareto.png</c> and <c>.svg</c> (the report of compare) over all jobs.
/// </summary>
public static class SweepLayout
{
    public const string JobsFolder = "jobs";
    public const string CheckpointsFolder = "checkpoints";
    public const string ActivationsFolder = "activations";
    public const string JobFile = "job.json";
    public const string MetricsFile = "metrics.json";
    public const string ResultsFile = "results.json";
    public const string PlotFile = "pareto.png";
    public const string ReportFile = "report.html";
}
