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
}
