namespace Mechanist.Validators;

/// <summary>
/// What a validator (or one of its checks) needs on its <see cref="ValidationContext"/> to run. A validator declares
/// it in its attribute (<c>[Validator("id", Requires = ValidationInputs.Model | ValidationInputs.Behaviour)]</c>) and a
/// check that needs more than its validator in its <see cref="CheckDescriptor.Requires"/>. The host reads both before
/// anything runs: a validation entry of <c>mechanist.json</c> that cannot supply an input is configuration error
/// MECH0010 at the entry's line, never a check that passes because it did not run.
/// </summary>
[Flags]
public enum ValidationInputs
{
    None = 0,

    /// <summary><see cref="ValidationContext.Decomposition"/>: a decomposition to validate (a <c>decompositions</c> entry).</summary>
    Decomposition = 1 << 0,

    /// <summary><see cref="ValidationContext.Activations"/>: the decomposition's activations (a file, or harvested from the model).</summary>
    Activations = 1 << 1,

    /// <summary><see cref="ValidationContext.Model"/>: the released model (<c>model</c>).</summary>
    Model = 1 << 2,

    /// <summary><see cref="ValidationContext.Site"/>: the hook site the decomposition reads.</summary>
    Site = 1 << 3,

    /// <summary><see cref="ValidationContext.Behaviour"/>: inputs and a metric (a <c>behaviours</c> entry).</summary>
    Behaviour = 1 << 4,

    /// <summary><see cref="Attribution.Behaviour.Corrupted"/>: the behaviour's corrupted inputs (a file or a corruption rule).</summary>
    CorruptedInputs = 1 << 5,

    /// <summary>A behaviour whose metric has a gradient (every metric but <c>accuracy</c>).</summary>
    DifferentiableMetric = 1 << 6,

    /// <summary><see cref="ValidationContext.Tokens"/>: the token ids the activations were harvested from.</summary>
    Tokens = 1 << 7,

    /// <summary><see cref="ValidationContext.InputBatches"/>: model inputs (the <c>dataset</c>) in batches, e.g. to measure the model's loss on.</summary>
    Dataset = 1 << 8,

    /// <summary><see cref="ValidationContext.ConceptLabels"/>: per-token concept labels (a validation entry's <c>labels</c> file).</summary>
    ConceptLabels = 1 << 9,
}

/// <summary>Names of <see cref="ValidationInputs"/> flags, as documentation and messages spell them.</summary>
public static class ValidationInputNames
{
    static readonly (ValidationInputs Flag, string Name, string Where)[] All =
    [
        (ValidationInputs.Decomposition, "a decomposition", "name one in 'decompositions'"),
        (ValidationInputs.Activations, "activations", "give the decomposition 'activations', or a 'model' and a 'dataset' to harvest them from"),
        (ValidationInputs.Model, "a model", "set 'model' (or pass --model)"),
        (ValidationInputs.Site, "a hook site", "give the decomposition a 'site'"),
        (ValidationInputs.Behaviour, "a behaviour", "name one of 'behaviours' in the entry's 'behaviour'"),
        (ValidationInputs.CorruptedInputs, "corrupted inputs", "give the behaviour 'corrupted' (a file or a rule such as { \"rule\": \"resample\", \"position\": 1 })"),
        (ValidationInputs.DifferentiableMetric, "a differentiable metric", "use a metric other than 'accuracy'"),
        (ValidationInputs.Tokens, "the token ids of the activations", "harvest the decomposition's activations from the model on the 'dataset' (omit 'activations')"),
        (ValidationInputs.Dataset, "model inputs", "set 'dataset'"),
        (ValidationInputs.ConceptLabels, "concept labels", "give the entry 'labels': a concept labels file (.safetensors with concept.NAME tensors)"),
    ];

    /// <summary>Each flag set in <paramref name="inputs"/> with its name and how a config supplies it.</summary>
    public static IEnumerable<(ValidationInputs Flag, string Name, string Where)> Describe(ValidationInputs inputs) =>
        All.Where(x => (inputs & x.Flag) != 0);

    /// <summary>"a model, a behaviour" for the flags set.</summary>
    public static string Format(ValidationInputs inputs) => string.Join(", ", Describe(inputs).Select(x => x.Name));
}
