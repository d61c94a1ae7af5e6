using Mechanist.Options;

namespace Mechanist.Decomposers;

/// <summary>
/// Extension point: learns a dictionary from activations. Mark a subclass with <c>[Decomposer("id")]</c>;
/// derive from <see cref="Decomposer{TOptions}"/> to receive typed options.
/// </summary>
public abstract class Decomposer
{
    /// <summary>Fits the dictionary. The returned decomposition owns its tensors; the caller disposes it.</summary>
    public abstract Decomposition Fit(DecomposeContext context);
}

/// <summary>A decomposer with typed options.</summary>
public abstract class Decomposer<TOptions> : Decomposer where TOptions : MethodOptions, new()
{
    public sealed override Decomposition Fit(DecomposeContext context) => Fit(context, context.GetOptions<TOptions>());

    protected abstract Decomposition Fit(DecomposeContext context, TOptions options);
}

/// <summary>What a decomposer fits on.</summary>
public sealed class DecomposeContext : MethodContext
{
    public required IActivationSource Activations { get; init; }

    /// <summary>The hook site the activations came from, when known (recorded as <c>metadata.hook_name</c>).</summary>
    public string? HookName { get; init; }

    /// <summary>
    /// What to reconstruct, row-aligned with <see cref="Activations"/>, when it differs from the input: the MLP output
    /// for a transcoder (input = the MLP input). Null for autoencoders; decomposers that do not map input to output ignore it.
    /// </summary>
    public IActivationSource? Targets { get; init; }

    /// <summary>
    /// The hook sites fitted at once, row-aligned, when there are several (a crosscoder). <see cref="Activations"/>
    /// is then their concatenation along the feature dimension, in this order, so single-site methods see every site as
    /// one matrix. Null when there is one site.
    /// </summary>
    public IReadOnlyList<IActivationSource>? Sites { get; init; }
}
