using Mechanist.Host.Checks;
using Mechanist.Host.Configuration;
using Mechanist.Validators;

namespace Mechanist.Host.Gate;

/// <summary>
/// The last pass of a check run, after everything has run: the host's own findings take their configured
/// severities (validators apply them as they report), values are compared with the baseline (MECH5xxx regressions,
/// <c>baselineState</c> on every finding, the baseline's findings that are gone), and with <c>--fail-on new</c> an
/// error the baseline already had is lowered to a warning so that only new errors fail the gate.
/// </summary>
public static class CheckJudge
{
    public static CheckResult Judge(CheckPlan plan, CheckExecution execution, CheckRunOptions options, Baseline? baseline, TimeSpan elapsed)
    {
        var config = plan.Config;
        var settings = config.Settings;
        var ran = new Dictionary<string, CheckDescriptor>(execution.Ran, StringComparer.Ordinal);
        var findings = new List<ReportedFinding>();
        foreach (var f in plan.Findings.Concat(execution.Findings))
        {
            ran.TryAdd(f.Id, f.Finding.Descriptor);
            if (f.Finding.Descriptor.Category != "Infrastructure") { findings.Add(f); continue; }
            var severity = settings.SeverityOf(f.Finding.Descriptor);
            if (severity != Severity.None) findings.Add(f with { Finding = f.Finding with { Severity = severity } });
        }

        var absent = new List<ReportedFinding>();
        if (baseline is not null)
        {
            foreach (var d in RegressionChecks.All) ran[d.Id] = d;
            findings.AddRange(Regressions(plan, execution.Measurements, baseline, settings));

            // baselineState: new, unchanged, updated; the baseline's findings that are gone are absent.
            var accepted = baseline.Findings.GroupBy(f => f.Key).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < findings.Count; i++)
            {
                var f = findings[i];
                string state;
                if (!accepted.TryGetValue(f.Key, out var previous)) state = "new";
                else
                {
                    seen.Add(f.Key);
                    bool same = previous.Any(p => p.Severity == f.Severity.ToString().ToLowerInvariant() &&
                        Nullable.Equals(p.Value, f.Finding.Value is double v ? Baseline.Round(v) : null));
                    state = same ? "unchanged" : "updated";
                }
                findings[i] = f with { BaselineState = state };
            }
            foreach (var (key, previous) in accepted.Where(kv => !seen.Contains(kv.Key)))
                foreach (var p in previous)
                    absent.Add(Absent(plan, p));
        }

        var failOn = options.FailOn;
        if (failOn == "new" && baseline is not null)
            for (int i = 0; i < findings.Count; i++)
                if (findings[i].Severity == Severity.Error && findings[i].BaselineState is "unchanged" or "updated")
                    findings[i] = findings[i] with
                    {
                        Finding = findings[i].Finding with { Severity = Severity.Warning },
                        DemotedFrom = Severity.Error,
                    };

        foreach (var f in absent) ran.TryAdd(f.Id, f.Finding.Descriptor);
        var rules = ran.Values.OrderBy(r => r.Id, StringComparer.Ordinal).ToList();
        return new CheckResult
        {
            Config = config, Model = plan.Model, Findings = findings, AbsentFindings = absent, Rules = rules,
            HelpUris = rules.ToDictionary(r => r.Id, r => HelpLinks.Resolve(r.HelpLink, options.HelpUriBase, plan.SourceFolders.GetValueOrDefault(r.Id))),
            ToolInformationUri = HelpLinks.Resolve("docs/checks/README.md", options.HelpUriBase),
            Inputs = execution.Inputs, Outputs = execution.Outputs, Elapsed = elapsed, DecompositionFolders = execution.DecompositionFolders,
            Measurements = execution.Measurements, Attributions = execution.Attributions, Log = execution.Log, Harvests = execution.Harvests, Runs = execution.Runs,
            BaselinePath = baseline is null ? null : config.BaselinePath, FailOn = failOn,
        };
    }

    /// <summary>MECH5xxx: the values that got worse than the baseline's beyond each check's tolerance, features that died, values no longer measured.</summary>
    static IEnumerable<ReportedFinding> Regressions(CheckPlan plan, IReadOnlyList<MeasuredValue> current, Baseline baseline, CheckSettings settings)
    {
        var config = plan.Config;
        var before = baseline.Measurements.GroupBy(m => m.Key).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        // A validator may measure one check several times at one place (a probe per concept at a site): the first counts, as in the baseline.
        var now = current.GroupBy(m => m.Key).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var m in current)
        {
            var descriptor = plan.Known.GetValueOrDefault(m.Check);
            if (m.Feature is not null && m.Check == "MECH1003")
            {
                // A dead latent the baseline measured alive: the baseline has the decomposition's dead fraction but not this latent.
                var aggregate = MeasuredValue.KeyOf(m.Check, m.Validation, m.Decomposition, m.Behaviour, m.Site, null);
                if (before.ContainsKey(aggregate) && !before.ContainsKey(m.Key) && Report(RegressionChecks.FeatureDied, settings) is { } died)
                    yield return Place(plan, Validators.Finding.Create(RegressionChecks.FeatureDied, new FindingLocation(config.Path, m.Site, m.Feature),
                        [m.Feature], value: 0, severity: died), m);
                continue;
            }
            if (descriptor is null || descriptor.Direction == MetricDirection.None || !before.TryGetValue(m.Key, out var b)) continue;
            var check = RegressionChecks.For(descriptor);
            if (Report(check, settings) is not { } severity || settings.ThresholdOf(check) is not double tolerance) continue;
            double worse = descriptor.Direction == MetricDirection.HigherIsBetter ? b.Value - m.Value : m.Value - b.Value;
            double relative = worse / Math.Max(Math.Abs(b.Value), 0.01);
            if (double.IsNaN(m.Value) && !double.IsNaN(b.Value)) relative = double.PositiveInfinity;
            if (!(relative > tolerance)) continue;
            yield return Place(plan, Validators.Finding.Create(check, new FindingLocation(config.Path, m.Site, m.Feature),
                [$"{m.Check} {descriptor.Title.ToLowerInvariant()}", Where(m), m.Value, b.Value, relative, tolerance], value: relative, threshold: tolerance, severity: severity), m);
        }
        if (Report(RegressionChecks.MeasurementMissing, settings) is { } missingSeverity)
            foreach (var b in baseline.Measurements.Where(b => b.Feature is null && !now.ContainsKey(b.Key)))
                yield return Place(plan, Validators.Finding.Create(RegressionChecks.MeasurementMissing, new FindingLocation(config.Path, b.Site),
                    [b.Check, Where(b), b.Value], severity: missingSeverity), b);
    }

    static Severity? Report(CheckDescriptor check, CheckSettings settings) =>
        settings.SeverityOf(check) is var s && s != Severity.None ? s : null;

    static string Where(MeasuredValue m) => string.Join(", ", new[]
    {
        m.Validation, m.Decomposition is null ? null : $"decomposition '{m.Decomposition}'", m.Behaviour is null ? null : $"behaviour '{m.Behaviour}'",
        m.Feature is null ? null : $"feature {m.Feature}",
    }.Where(x => x is not null));

    /// <summary>A regression is placed at its decomposition's line, else its validation entry's.</summary>
    static ReportedFinding Place(CheckPlan plan, Finding finding, MeasuredValue m)
    {
        var pointer = Pointer(plan, m.Decomposition, m.Validation);
        return CheckPlanner.At(plan.Config, finding, pointer, m.Decomposition, m.Validation) with { Behaviour = m.Behaviour };
    }

    static string Pointer(CheckPlan plan, string? decomposition, string? validation) =>
        plan.Config.Decompositions.FirstOrDefault(d => d.Name == decomposition)?.Pointer
        ?? plan.Config.Validations.FirstOrDefault(v => v.Method == validation)?.Pointer
        ?? "";

    static ReportedFinding Absent(CheckPlan plan, BaselineFinding p)
    {
        var descriptor = plan.Known.GetValueOrDefault(p.Id) ?? new CheckDescriptor(p.Id, p.Id, "{0}", "Unknown", Severity.Warning, CheckDescriptor.DocPath(p.Id));
        var severity = Enum.TryParse<Severity>(p.Severity, ignoreCase: true, out var s) ? s : Severity.Warning;
        var finding = new Finding(descriptor, severity, new FindingLocation(plan.Config.Path, p.Site, p.Feature), p.Message, p.Value);
        return CheckPlanner.At(plan.Config, finding, Pointer(plan, p.Decomposition, p.Validation), p.Decomposition, p.Validation)
            with { Behaviour = p.Behaviour, BaselineState = "absent" };
    }
}
