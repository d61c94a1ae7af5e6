using Mechanist.Validators;

namespace Mechanist.Host.Configuration;

/// <summary>
/// A parsed <c>mechanist.json</c>: what a release check runs and how its findings are judged. Every path is already
/// resolved against the config file's folder. Each element keeps its JSON Pointer so that errors and findings can
/// name the line it came from. The JSON schema is <c>mechanist.schema.json</c> beside this file.
/// </summary>
public sealed record CheckConfig
{
    /// <summary>Full path of the config file.</summary>
    public required string Path { get; init; }

    /// <summary>Line and column of every key of the config file.</summary>
    public required JsonPositions Positions { get; init; }

    /// <summary>The model folder (<c>config.json</c> + <c>model.safetensors</c>), when the config names one.</summary>
    public string? Model { get; init; }

    /// <summary>The model inputs: what activations are harvested from, the default inputs of a behaviour, the loss's inputs.</summary>
    public DatasetConfig? Dataset { get; init; }

    public IReadOnlyList<Located<string>> Plugins { get; init; } = [];

    /// <summary><c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>; null when not set.</summary>
    public string? Device { get; init; }

    public int Seed { get; init; }

    public IReadOnlyList<DecompositionConfig> Decompositions { get; init; } = [];

    /// <summary>The behaviours the release makes claims about, by name.</summary>
    public IReadOnlyList<BehaviourConfig> Behaviours { get; init; } = [];

    public IReadOnlyList<AttributionConfig> Attributions { get; init; } = [];

    public IReadOnlyList<ValidationConfig> Validations { get; init; } = [];

    /// <summary>Per-check severity and threshold overrides, like <c>dotnet_diagnostic.ID.severity</c>.</summary>
    public IReadOnlyList<CheckRule> Checks { get; init; } = [];

    /// <summary>Time budgets of method runs (<c>timeouts</c>): a default and per-method overrides, in seconds.</summary>
    public IReadOnlyList<TimeoutRule> Timeouts { get; init; } = [];

    /// <summary>The baseline file (<c>baseline</c>); null for the default beside the config (<see cref="BaselinePath"/>).</summary>
    public Located<string>? Baseline { get; init; }

    /// <summary>The baseline file this config compares with: <c>baseline</c>, else <c>NAME.baseline.json</c> beside <c>NAME.json</c>.</summary>
    public string BaselinePath => Baseline?.Value ?? DefaultBaselinePath(Path);

    public static string DefaultBaselinePath(string configPath) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(configPath)!, System.IO.Path.GetFileNameWithoutExtension(configPath) + ".baseline.json");

    /// <summary>The overrides as the <see cref="CheckSettings"/> handed to every validator.</summary>
    public CheckSettings Settings => new(
        Checks.Where(c => c.Severity is not null).ToDictionary(c => c.Id, c => c.Severity!.Value),
        Checks.Where(c => c.Threshold is not null).ToDictionary(c => c.Id, c => c.Threshold!.Value));
}

/// <summary>A value with the JSON Pointer of the config element it came from.</summary>
public sealed record Located<T>(T Value, string Pointer);

/// <summary>
/// Model inputs: a token file (<see cref="Path"/>: JSONL lists of ids, or an integer tensor in <c>.safetensors</c>
/// (<see cref="Tensor"/>) or <c>.npy</c>), raw text (<see cref="Text"/>, GPT-2 BPE), or a generated task
/// (<see cref="Task"/> with <see cref="Options"/>, e.g. <c>modular-addition</c> with <c>split: held_out</c>).
/// </summary>
public sealed record DatasetConfig(string Pointer, string? Path, string Tensor, string? Text, string? Task,
    IReadOnlyDictionary<string, string> Options, int? Context, int? Limit)
{
    /// <summary>What the inputs are, for messages: the file, or the task with its options.</summary>
    public string Describe() => Path ?? Text ?? $"task {Task}{(Options.Count == 0 ? "" : " (" + string.Join(", ", Options.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}={o.Value}")) + ")")}";
}

/// <summary>
/// One decomposition to check: at a hook site, on activations (a file, or harvested from the model at its site on
/// the dataset when <see cref="Activations"/> is null), either trained with a decomposer (<see cref="Method"/> and
/// <see cref="Options"/>) or loaded from a SAELens-layout folder (<see cref="Folder"/>).
/// </summary>
public sealed record DecompositionConfig(
    string Name, string Pointer, string? Site, string? Activations, string? Tensor,
    string? Method, IReadOnlyDictionary<string, string> Options, int? Seed, string? Folder);

/// <summary>How corrupted inputs are made: a file (<see cref="Inputs"/>) or a rule applied to the clean inputs.</summary>
/// <param name="Rule"><c>resample</c>: the token at <see cref="Position"/> of each input is replaced by that of another input (a seeded derangement).</param>
public sealed record CorruptionConfig(string Pointer, DatasetConfig? Inputs, string? Rule, int? Position, int? Seed);

/// <summary>
/// A behaviour the release makes claims about: inputs (<see cref="Inputs"/>, else the config's dataset), optional
/// corrupted inputs, and a metric of the model's output at a position for a target (a token id, a token string
/// read with GPT-2's BPE, or the task's <c>label</c>).
/// </summary>
public sealed record BehaviourConfig(
    string Name, string Pointer, DatasetConfig? Inputs, CorruptionConfig? Corrupted, string Metric,
    Located<BehaviourTarget>? Target, Located<BehaviourTarget>? Contrast, int Position)
{
    public static readonly string[] Metrics = ["logit", "logprob", "prob", "logit-diff", "accuracy", "loss"];

    /// <summary>Whether the metric has a gradient (every one but <c>accuracy</c>).</summary>
    public bool Differentiable => Metric != "accuracy";
}

/// <summary>A metric's target: a token id, a token string, the task's label, or (for a contrast) the corrupted input's label.</summary>
public sealed record BehaviourTarget(long? Id, string? Token, bool Label, bool CorruptedLabel)
{
    public override string ToString() =>
        Id is long id ? id.ToString(System.Globalization.CultureInfo.InvariantCulture) : Token is not null ? $"\"{Token}\"" : Label ? "label" : "corrupted-label";
}

/// <summary>An attribution method to run on a behaviour; its scores and completeness error go into the report.</summary>
public sealed record AttributionConfig(string Pointer, string Method, IReadOnlyDictionary<string, string> Options, IReadOnlyList<string> Sites,
    Located<string>? Behaviour, Located<string>? Decomposition, int Top);

/// <summary>
/// A validator to run, on the named decompositions (all when none are named), with a behaviour when it needs one and
/// a concept labels file (absolute) when its claims are about concepts.
/// </summary>
public sealed record ValidationConfig(string Pointer, string Method, IReadOnlyDictionary<string, string> Options,
    IReadOnlyList<Located<string>>? Decompositions, Located<string>? Behaviour = null, string? Site = null, Located<string>? Labels = null);

/// <summary>
/// The time budget of every run of a method (<see cref="Method"/> a method ID) or of every method without one of its
/// own (<see cref="Default"/>), in seconds: a run that exceeds it is stopped and reported as MECH0005.
/// </summary>
public sealed record TimeoutRule(string Method, string Pointer, double Seconds)
{
    public const string Default = "default";

    /// <summary>A day: more is a typing mistake, not a budget.</summary>
    public const double MaxSeconds = 86400;
}

/// <summary>The configured severity and threshold of one check ID.</summary>
public sealed record CheckRule(string Id, string Pointer, Severity? Severity, double? Threshold);
