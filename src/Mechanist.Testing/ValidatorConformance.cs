using Mechanist.Host.Gate;
using Mechanist.Host.Discovery;
using Mechanist.Host.Running;
using Mechanist.Options;
using Mechanist.Validators;

namespace Mechanist.Testing;

/// <summary>
/// A validator: declares complete checks (valid IDs, its own prefix unless built in, a page and a metric definition
/// each); given nothing, says it could not run (MECH0013) when it requires inputs; in a check of a tiny model with
/// every input it requires, runs without throwing or leaving a hook, reports only the checks it declares, and reports
/// the same findings and values twice with one seed.
/// </summary>
internal static class ValidatorConformance
{
    const string MethodThrew = "MECH0001";

    public static void Verify(MethodHost host, MethodEntry entry, ConformanceOptions options, Failures f)
    {
        IReadOnlyList<CheckDescriptor> checks = [];
        f.Check("it declares complete checks with valid IDs", () =>
        {
            var catalog = CheckCatalog.Build(host.Host.Catalog, host.Host.Services);
            if (catalog.Unusable.TryGetValue(entry.Id, out var unusable)) Failures.Fail(unusable.Message);
            checks = catalog.Declared[entry.Id];
            Failures.That(checks.Count > 0, "SupportedChecks is empty");
            var duplicate = catalog.Findings.FirstOrDefault(x => x.Location.Method == entry.Id);
            Failures.That(duplicate is null, duplicate?.Message ?? "");
            foreach (var c in checks)
            {
                Failures.That(!c.Id.StartsWith("MECH0", StringComparison.Ordinal), $"{c.Id}: MECH0xxx is the host's");
                Failures.That(!string.IsNullOrWhiteSpace(c.MetricDefinition), $"{c.Id} does not define the value it measures (MetricDefinition)");
                Failures.That(HelpPages.Exists(c.HelpLink, entry), $"{c.Id}: its page '{c.HelpLink}' was not found ({HelpPages.Searched(entry)})");
            }
        });

        BoundMethod? bound = null;
        f.Check("its options bind", () => bound = MethodRunner.Bind(entry, options.Options));
        if (bound is null) return;
        var requires = entry.Descriptor.Requires | checks.Aggregate(ValidationInputs.None, (a, c) => a | c.Requires);

        f.Check("given nothing, it says it could not run instead of passing (MECH0013)", () =>
        {
            var run = MethodRunner.For(host.Host).Validate(bound, (report, measure) => new ValidationContext(report, measure) { Options = bound.Options, MethodId = entry.Id, Seed = options.Seed });
            var threw = run.Findings.FirstOrDefault(x => x.Id == MethodThrew);
            Failures.That(threw is null, $"it threw on an empty context: {threw?.Message}");
            if (entry.Descriptor.Requires != ValidationInputs.None)
                Failures.That(run.Findings.Any(x => x.Id == ValidatorChecks.CouldNotRun.Id), $"it requires {ValidationInputNames.Format(entry.Descriptor.Requires)}, got none, and reported {(run.Findings.Count == 0 ? "nothing" : string.Join(", ", run.Findings.Select(x => x.Id)))} instead of MECH0013");
        });

        var config = Subject.ForValidator(entry.Id, requires, options.Options, entry.Descriptor.Options.Select(o => o.Name).ToList());
        List<ReportedLike>? first = null;
        IReadOnlyList<MeasuredValue>? firstValues = null;
        f.Check($"it runs in a check of {nameof(TinyModel)} with what it requires ({ValidationInputNames.Format(requires)})", () =>
        {
            var result = CheckRun.Run(host, config);
            first = Own(result, entry.Id).ToList();
            firstValues = result.Measurements.Where(m => m.Validation == entry.Id).ToList();
            var failed = result.Findings.Where(x => x.Id is MethodThrew or "MECH0005" && (x.Validation == entry.Id || x.Finding.Location.Method == entry.Id)).ToList();
            Failures.That(failed.Count == 0, string.Join("; ", failed.Select(x => $"{x.Id}: {x.Finding.Message}")));
            var undeclared = first.Where(x => x.Id != ValidatorChecks.CouldNotRun.Id && checks.All(c => c.Id != x.Id)).ToList();
            Failures.That(undeclared.Count == 0, $"it reported {string.Join(", ", undeclared.Select(x => x.Id))}, which it does not declare");
        });
        if (first is null) return;
        f.Check($"two checks with seed 0 report the same findings and values", () =>
        {
            var result = CheckRun.Run(host, config);
            var second = Own(result, entry.Id).ToList();
            Failures.That(first.SequenceEqual(second), $"first run: {Describe(first)}; second run: {Describe(second)}");
            var values = result.Measurements.Where(m => m.Validation == entry.Id).ToList();
            Failures.That(firstValues!.SequenceEqual(values), $"the measured values differ: {string.Join(", ", firstValues!.Except(values).Take(3))} against {string.Join(", ", values.Except(firstValues!).Take(3))}");
        });
    }

    internal static IEnumerable<ReportedLike> Own(CheckResult result, string validatorId) =>
        result.Findings.Where(x => x.Validation == validatorId || x.Finding.Location.Method == validatorId).Select(CheckRun.Shape);

    internal static string Describe(IReadOnlyCollection<ReportedLike> findings) =>
        findings.Count == 0 ? "no findings" : string.Join("; ", findings);
}
