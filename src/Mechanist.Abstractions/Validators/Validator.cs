using System.Collections.Immutable;
using Mechanist.Decomposers;
using Mechanist.Models;
using Mechanist.Options;

namespace Mechanist.Validators;

/// <summary>
/// Extension point: a causal or quality check that reports findings, like Roslyn's DiagnosticAnalyzer.
/// Declares what it can report in <see cref="SupportedChecks"/> and reports through its context.
/// A validator that throws becomes finding MECH0001; the run goes on.
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

/// <summary>What a validator examines and where it reports.</summary>
public sealed class ValidationContext : MethodContext
{
    readonly Action<Finding> _report;

    public ValidationContext(Action<Finding> report) => _report = report;

    public Decomposition? Decomposition { get; init; }
    public IActivationSource? Activations { get; init; }
    public IHookedModel? Model { get; init; }

    /// <summary>Path of the model or config the findings are about (their location).</summary>
    public string? SubjectPath { get; init; }

    public string? Site { get; init; }

    /// <summary>The behaviour causal and attribution checks test claims about (inputs, metric, corrupted inputs).</summary>
    public Attribution.Behaviour? Behaviour { get; init; }

    /// <summary>Token ids [n_sequences, seq_len] the activations were harvested from, row-major (see <see cref="Interpreters.InterpretContext.Tokens"/>).</summary>
    public TorchSharp.torch.Tensor? Tokens { get; init; }

    public CheckSettings Settings { get; init; } = CheckSettings.Default;

    /// <summary>The configured threshold of a check (its default unless overridden).</summary>
    public double? ThresholdOf(CheckDescriptor check) => Settings.ThresholdOf(check);

    /// <summary>Reports a finding at the check's configured severity; nothing is reported when that is <see cref="Severity.None"/>.</summary>
    public void Report(CheckDescriptor check, object?[] messageArgs, double? value = null, int? feature = null)
    {
        var severity = Settings.SeverityOf(check);
        if (severity == Severity.None) return;
        _report(Finding.Create(check, new FindingLocation(SubjectPath, Site, feature), messageArgs, value, ThresholdOf(check), severity));
    }
}
