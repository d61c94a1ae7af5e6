using System.Text.Json.Nodes;
using Mechanist.Decomposers;
using Mechanist.Models;
using Mechanist.Options;

namespace Mechanist.Interpreters;

/// <summary>Extension point: says what features of a decomposition do (top examples, output effects, synthesis).</summary>
public abstract class Interpreter
{
    public abstract IReadOnlyList<FeatureExplanation> Interpret(InterpretContext context);
}

/// <summary>An interpreter with typed options.</summary>
public abstract class Interpreter<TOptions> : Interpreter where TOptions : MethodOptions, new()
{
    public sealed override IReadOnlyList<FeatureExplanation> Interpret(InterpretContext context) =>
        Interpret(context, context.GetOptions<TOptions>());

    protected abstract IReadOnlyList<FeatureExplanation> Interpret(InterpretContext context, TOptions options);
}

public sealed class InterpretContext : MethodContext
{
    public required Decomposition Decomposition { get; init; }
    public IActivationSource? Activations { get; init; }
    public IHookedModel? Model { get; init; }

    /// <summary>Features to explain; all when null.</summary>
    public IReadOnlyList<int>? Features { get; init; }
}

/// <summary>One feature's explanation: a one-line summary and method-specific details as JSON.</summary>
public sealed record FeatureExplanation(int Feature, string Summary, JsonObject Details);
