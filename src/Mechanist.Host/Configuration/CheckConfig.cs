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

    /// <summary>The inputs the model is run on when activations are harvested rather than read from a file.</summary>
    public DatasetConfig? Dataset { get; init; }

    public IReadOnlyList<Located<string>> Plugins { get; init; } = [];

    /// <summary><c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>; null when not set.</summary>
    public string? Device { get; init; }

    public int Seed { get; init; }

    public IReadOnlyList<DecompositionConfig> Decompositions { get; init; } = [];

    public IReadOnlyList<AttributionConfig> Attributions { get; init; } = [];

    public IReadOnlyList<ValidationConfig> Validations { get; init; } = [];

    /// <summary>Per-check severity and threshold overrides, like <c>dotnet_diagnostic.ID.severity</c>.</summary>
    public IReadOnlyList<CheckRule> Checks { get; init; } = [];

    /// <summary>The overrides as the <see cref="CheckSettings"/> handed to every validator.</summary>
    public CheckSettings Settings => new(
        Checks.Where(c => c.Severity is not null).ToDictionary(c => c.Id, c => c.Severity!.Value),
        Checks.Where(c => c.Threshold is not null).ToDictionary(c => c.Id, c => c.Threshold!.Value));
}

/// <summary>A value with the JSON Pointer of the config element it came from.</summary>
public sealed record Located<T>(T Value, string Pointer);

/// <summary>Where the model's inputs come from: a file of input tensors, or a generated task.</summary>
public sealed record DatasetConfig(string Pointer, string? Path, string Tensor, string? Task, IReadOnlyDictionary<string, string> Options);

/// <summary>
/// One decomposition to check: at a hook site, on activations (a file today), either trained with a decomposer
/// (<see cref="Method"/> and <see cref="Options"/>) or loaded from a SAELens-layout folder (<see cref="Folder"/>).
/// </summary>
public sealed record DecompositionConfig(
    string Name, string Pointer, string? Site, string? Activations, string Tensor,
    string? Method, IReadOnlyDictionary<string, string> Options, int? Seed, string? Folder);

/// <summary>An attribution method to run.</summary>
public sealed record AttributionConfig(string Pointer, string Method, IReadOnlyDictionary<string, string> Options, string? Site);

/// <summary>A validator to run, on the named decompositions (all when none are named).</summary>
public sealed record ValidationConfig(string Pointer, string Method, IReadOnlyDictionary<string, string> Options, IReadOnlyList<Located<string>>? Decompositions);

/// <summary>The configured severity and threshold of one check ID.</summary>
public sealed record CheckRule(string Id, string Pointer, Severity? Severity, double? Threshold);
