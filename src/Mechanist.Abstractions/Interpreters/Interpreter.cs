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

    /// <summary>The hook site the decomposition reads (where synthesis measures a feature).</summary>
    public string? Site { get; init; }

    /// <summary>
    /// Token ids [n_sequences, seq_len] (int64) the activations were harvested from, row-major: activation row r is
    /// sequence r / seq_len, position r % seq_len. Enables context windows.
    /// </summary>
    public TorchSharp.torch.Tensor? Tokens { get; init; }

    /// <summary>Turns a token id into its text, when a tokenizer is known.</summary>
    public Func<long, string>? TokenText { get; init; }

    /// <summary>
    /// The map from the decomposition's space to output logits, [d_in, vocab] (the unembedding W_U, composed with
    /// whatever lies between the site and the residual stream). Output effects read decoder directions through it.
    /// </summary>
    public TorchSharp.torch.Tensor? Unembedding { get; init; }

    /// <summary>The token embedding matrix [vocab, d_model] (soft-token synthesis reports the nearest tokens).</summary>
    public TorchSharp.torch.Tensor? Embedding { get; init; }

    /// <summary>An example model input [1, …]: the shape a synthesised input takes, or the tokens soft embeddings replace.</summary>
    public TorchSharp.torch.Tensor? InputTemplate { get; init; }
}

/// <summary>One feature's explanation: a one-line summary and method-specific details as JSON.</summary>
public sealed record FeatureExplanation(int Feature, string Summary, JsonObject Details);
