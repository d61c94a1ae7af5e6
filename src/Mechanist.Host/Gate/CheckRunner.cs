using System.Diagnostics;
using Mechanist.Host.Configuration;

namespace Mechanist.Host.Gate;

/// <summary>What the caller adds to a config: command-line plugins, a model folder, a device, a help-link base, the baseline mode.</summary>
public sealed record CheckRunOptions
{
    public IReadOnlyList<string> ExtraPlugins { get; init; } = [];

    /// <summary>Replaces the config's <c>model</c> (the MSBuild item's folder).</summary>
    public string? Model { get; init; }

    /// <summary>Replaces the config's <c>device</c>.</summary>
    public string? Device { get; init; }

    /// <summary>Base URI that relative help links (<c>docs/checks/ID.md</c>) are resolved against; see <see cref="HelpLinks"/>.</summary>
    public string? HelpUriBase { get; init; }

    /// <summary>Where harvested activations are kept between runs (the build's intermediate folder); null: a temporary folder.</summary>
    public string? CacheFolder { get; init; }

    /// <summary>Write the baseline from this run (every finding and value accepted), then compare with it.</summary>
    public bool UpdateBaseline { get; init; }

    /// <summary><c>all</c>: every error fails; <c>new</c>: only errors the baseline does not have.</summary>
    public string FailOn { get; init; } = "all";

    /// <summary>
    /// Time budgets from the command line, replacing the config's <c>timeouts</c>: (null, t) sets the default budget of
    /// every method run, (ID, t) one method's.
    /// </summary>
    public IReadOnlyList<(string? Method, TimeSpan Budget)> Timeouts { get; init; } = [];

    public IProgress<string>? Log { get; init; }

    public CancellationToken CancellationToken { get; init; }
}

/// <summary>
/// The check driver: runs everything a <c>mechanist.json</c> asks, in three steps like Roslyn's analyzer driver —
/// <see cref="CheckPlanner"/> (resolve, bind, match every validation against what its validator requires, check the
/// inputs; every problem thrown at once as <see cref="CheckInputException"/> before anything heavy runs),
/// <see cref="CheckExecutor"/> (harvest, load, train, validate, attribute; a method that throws is MECH0001 and the
/// run goes on), and <see cref="CheckJudge"/> (severities, baseline, <c>--fail-on</c>).
/// </summary>
public static class CheckRunner
{
    public static CheckResult Run(string configPath, CheckRunOptions? options = null)
    {
        options ??= new CheckRunOptions();
        var watch = Stopwatch.StartNew();
        var config = CheckConfigReader.Load(configPath);

        // Plugins: a missing folder is an input error at its line, before the host is composed.
        var problems = new ProblemList(config.Path, config.Positions);
        var plugins = new List<(string Path, string Pointer)>();
        foreach (var p in config.Plugins)
        {
            if (!File.Exists(p.Value) && !Directory.Exists(p.Value)) problems.Input(p.Pointer, $"plugin folder {p.Value} not found.");
            else plugins.Add((p.Value, p.Pointer));
        }
        foreach (var p in options.ExtraPlugins)
        {
            var full = Path.GetFullPath(p);
            if (!File.Exists(full) && !Directory.Exists(full)) problems.Input("", $"plugin folder {full} (--plugins) not found.");
            else plugins.Add((full, ""));
        }
        if (options.FailOn is not ("all" or "new"))
            throw new ArgumentException($"FailOn must be 'all' or 'new', not '{options.FailOn}'", nameof(options));
        problems.ThrowIfAny();

        using var host = MechanistHost.Create(plugins.Select(p => p.Path));
        var plan = CheckPlanner.Plan(config, host, plugins, options);
        var execution = CheckExecutor.Execute(plan, options);
        if (!options.UpdateBaseline) return CheckJudge.Judge(plan, execution, options, plan.Baseline, watch.Elapsed);

        // --update-baseline: this run's state is accepted; the run is then judged against it.
        var accepted = Baseline.From(CheckJudge.Judge(plan, execution, options with { FailOn = "all" }, null, watch.Elapsed));
        accepted.Write(config.BaselinePath);
        var result = CheckJudge.Judge(plan, execution, options, accepted, watch.Elapsed);
        return result with { BaselinePath = config.BaselinePath, BaselineUpdated = true };
    }
}
