using Mechanist.Models;
using static TorchSharp.torch;

namespace Mechanist.Testing;

/// <summary>
/// What a conformance verification runs a method with, beyond what it needs to find by itself. Every member is optional:
/// the defaults are a tiny input of the method's kind (activations for a decomposer, <see cref="TinyModel"/> with a
/// decomposition, a behaviour and model inputs for the others).
/// </summary>
public sealed record ConformanceOptions
{
    /// <summary>The method's options (<c>--set</c> names and values), e.g. fewer training steps to keep the test short.</summary>
    public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();

    /// <summary>The seed of every run (two runs with it must agree bit for bit).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>A decomposer's activations [N, d]; default: 256 rows of 32 heavy-tailed values (a cubed normal).</summary>
    public Func<Tensor>? Activations { get; init; }

    /// <summary>
    /// A model loader's model folder (required for one: the folder it loads); for an attribution method that attributes to
    /// a continuous input (integrated gradients), the model it runs on with <see cref="ModelInput"/>.
    /// </summary>
    public string? ModelFolder { get; init; }

    /// <summary>The input the model of <see cref="ModelFolder"/> runs on; default: token ids for a language model.</summary>
    public Func<IHookedModel, Tensor>? ModelInput { get; init; }

    /// <summary>An attribution method's site; default <c>hook_embed</c> (none with <see cref="AttributionDecomposition"/>).</summary>
    public string? AttributionSite { get; init; }

    /// <summary>Whether an attribution method runs with a decomposition spliced in at <see cref="TinyModel.MlpSite"/> (feature attribution).</summary>
    public bool AttributionDecomposition { get; init; }
}
