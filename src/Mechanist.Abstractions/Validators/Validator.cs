using System.Collections.Immutable;
using Mechanist.Decomposers;
using Mechanist.Models;
using Mechanist.Options;

namespace Mechanist.Validators;

/// <summary>
/// Extension point: a causal or quality check that reports findings, like Roslyn's DiagnosticAnalyzer.
/// Declares what it can report in <see cref="SupportedChecks"/> and what it needs in its attribute
/// (<see cref="Discovery.ValidatorAttribute.Requires"/>), and reports through its context.
/// A validator that throws becomes finding MECH0001; one that cannot run says so with
/// <see cref="ValidationContext.CannotRun"/> (MECH0013); the run goes on.
/// </summary>
public abstract class Validator
{
    public abstract ImmutableArray<CheckDescriptor> SupportedChecks { get; }

    public abstract void Validate(ValidationContext context);
}

/// <summary>A validator with typed options.</summary>
public abstract class Validator<TOptions> : Validator where TOptions : MethodOptions, new()
{
    public sealed override void Validate(ValidationContext context) => Validate(context, context.GetOptions<TOptions>());

    protected abstract void Validate(ValidationContext context, TOptions options);
}

/// <summary>Per-check configuration: severity and threshold overrides by check ID.</summary>
public sealed record CheckSettings(
    IReadOnlyDictionary<string, Severity>? Severities = null,
    IReadOnlyDictionary<string, double>? Thresholds = null)
{
    public static readonly CheckSettings Default = new();

    public Severity SeverityOf(CheckDescriptor d) =>
        Severities is not null && Severities.TryGetValue(d.Id, out var s) ? s : d.DefaultSeverity;

    public double? ThresholdOf(CheckDescriptor d) =>
        Thresholds is not null && Thresholds.TryGetValue(d.Id, out var t) ? t : d.DefaultThreshold;
}

/// <summary>One measured value of a check, reported or not: what a baseline records and later runs compare with.</summary>
public sealed record Measurement(CheckDescriptor Check, double Value, FindingLocation Location)
{
    public string Id => Check.Id;
}

/// <summary>Checks every validator may report besides its own <see cref="Validator.SupportedChecks"/>.</summary>
public static class ValidatorChecks
{
    /// <summary>A validator (or one of its checks) could not run on what it was given.</summary>
    public static readonly CheckDescriptor CouldNotRun = new(
        "MECH0013", "A check could not run",
        "{0} could not run: {1}", "Infrastructure", Severity.Error, CheckDescriptor.DocPath("MECH0013"));
}

/// <summary>What a validator examines and where it reports.</summary>
public sealed class ValidationContext : MethodContext
{
    readonly Action<Finding> _report;
    readonly Action<Measurement>? _measure;

    /// <param name="report">Receives every finding.</param>
    /// <param name="measure">Receives every measured value (<see cref="Measure"/>, and the value of every finding).</param>
    public ValidationContext(Action<Finding> report, Action<Measurement>? measure = null)
    {
        _report = report;
        _measure = measure;
    }

    public Decomposition? Decomposition { get; init; }
    public IActivationSource? Activations { get; init; }
    public IHookedModel? Model { get; init; }

    /// <summary>Path of the model or config the findings are about (their location).</summary>
    public string? SubjectPath { get; init; }

    public string? Site { get; init; }

    /// <summary>The ID of the validator being run (set by the host; named in <see cref="CannotRun"/> findings).</summary>
    public string? MethodId { get; init; }

    /// <summary>The behaviour causal and attribution checks test claims about (inputs, metric, corrupted inputs).</summary>
    public Attribution.Behaviour? Behaviour { get; init; }

    /// <summary>Token ids [n_sequences, seq_len] the activations were harvested from, row-major (see <see cref="Interpreters.InterpretContext.Tokens"/>).</summary>
    public TorchSharp.torch.Tensor? Tokens { get; init; }

    /// <summary>
    /// The model inputs of the check (its <c>dataset</c>), in batches [batch, positions] on <see cref="MethodContext.Device"/>,
    /// e.g. to measure the model's loss with and without a decomposition spliced in.
    /// </summary>
    public IReadOnlyList<TorchSharp.torch.Tensor>? InputBatches { get; init; }

    /// <summary>
    /// Per-token concept labels the claims are scored against (a validation entry's <c>labels</c> file), one row per
    /// token of <see cref="Tokens"/> or, when those are absent, of the tokens stored with the labels.
    /// </summary>
    public Concepts.ConceptLabels? ConceptLabels { get; init; }

    public CheckSettings Settings { get; init; } = CheckSettings.Default;

    /// <summary>The configured threshold of a check (its default unless overridden).</summary>
    public double? ThresholdOf(CheckDescriptor check) => Settings.ThresholdOf(check);

    /// <summary>Whether a check is switched on (its configured severity is not <see cref="Severity.None"/>).</summary>
    public bool IsEnabled(CheckDescriptor check) => Settings.SeverityOf(check) != Severity.None;

    /// <summary>Reports a finding at the check's configured severity; nothing is reported when that is <see cref="Severity.None"/>.</summary>
    public void Report(CheckDescriptor check, object?[] messageArgs, double? value = null, int? feature = null)
    {
        if (value is double v) Measure(check, v, feature);
        var severity = Settings.SeverityOf(check);
        if (severity == Severity.None) return;
        _report(Finding.Create(check, new FindingLocation(SubjectPath, Site, feature), messageArgs, value, ThresholdOf(check), severity));
    }

    /// <summary>
    /// Records a value a check measured, whether or not it crossed the threshold: a baseline keeps every measured
    /// value of an accepted release, and later runs report regressions against them (MECH5xxx).
    /// </summary>
    public void Measure(CheckDescriptor check, double value, int? feature = null) =>
        _measure?.Invoke(new Measurement(check, value, new FindingLocation(SubjectPath, Site, feature)));

    /// <summary>
    /// Says that the validator (or, with <paramref name="checks"/>, some of its checks) could not run on what it was
    /// given: finding MECH0013, an error unless configured otherwise. A check that cannot run never passes silently.
    /// </summary>
    public void CannotRun(string reason, params CheckDescriptor[] checks)
    {
        var what = checks.Length == 0 ? $"validator '{MethodId ?? "?"}'" : $"{string.Join(", ", checks.Select(c => c.Id))} ({MethodId ?? "?"})";
        var severity = Settings.SeverityOf(ValidatorChecks.CouldNotRun);
        if (severity == Severity.None) return;
        _report(Finding.Create(ValidatorChecks.CouldNotRun, new FindingLocation(SubjectPath, Site, Method: MethodId), [what, reason], severity: severity));
    }
}
