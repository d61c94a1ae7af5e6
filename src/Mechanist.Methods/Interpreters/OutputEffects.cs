using System.Text.Json.Nodes;
using Mechanist.Discovery;
using Mechanist.Interpreters;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Methods.Interpreters;

/// <summary>
/// The direct output effect of each feature: its decoder direction read through the unembedding (logit lens),
/// W_dec[i] · W_U, listing the tokens it promotes and suppresses most.
/// </summary>
[Interpreter("output-effects",
    Title = "Output effects through the unembedding",
    Summary = "Reads each feature's decoder direction through the unembedding (W_dec[i] · W_U, the direct path to the logits, final LayerNorm scale ignored) and lists the top promoted and suppressed tokens. Needs the unembedding (or its composition with the maps between the site and the residual stream) as a [d_in, vocab] matrix.",
    Reference = "nostalgebraist 2020, interpreting GPT: the logit lens; Bricken et al. 2023, Towards Monosemanticity (logit weights).",
    HelpLink = "docs/methods/output-effects.md")]
public sealed class OutputEffects : Interpreter<OutputEffectsOptions>
{
    protected override IReadOnlyList<FeatureExplanation> Interpret(InterpretContext context, OutputEffectsOptions options)
    {
        var unembedding = context.Unembedding ?? throw new MechanistInputException(
            "output-effects needs the unembedding [d_in, vocab] (a model whose weights include it, e.g. unembed.W_U or lm_head.weight).");
        var decomposition = context.Decomposition;
        if (unembedding.ndim != 2 || unembedding.shape[0] != decomposition.DIn)
            throw new MechanistInputException(
                $"the unembedding has shape [{string.Join(", ", unembedding.shape)}] but the decomposition's d_in is {decomposition.DIn}: " +
                "output effects need a map [d_in, vocab] from the decomposition's space to the logits.");
        var features = InterpreterInputs.Features(context);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var w = unembedding.to(ScalarType.Float32, CPU);
        var result = new List<FeatureExplanation>();
        int n = (int)Math.Min(options.TopN, w.shape[1]);
        foreach (var f in features)
        {
            using var inner = NewDisposeScope();
            var direction = decomposition.DecoderDirections[f].to(ScalarType.Float32, CPU);
            var effect = direction.matmul(w);
            var (upValues, upIndex) = effect.topk(n);
            var (downValues, downIndex) = effect.topk(n, largest: false);
            var up = upIndex.data<long>().ToArray();
            var down = downIndex.data<long>().ToArray();
            var upV = upValues.data<float>().ToArray();
            var downV = downValues.data<float>().ToArray();
            var details = new JsonObject
            {
                ["decoder_norm"] = Math.Round(direction.norm().item<float>(), 6),
                ["promoted"] = new JsonArray(up.Select((t, i) => (JsonNode)InterpreterInputs.Token(t, context.TokenText, "logit_effect", upV[i])).ToArray()),
                ["suppressed"] = new JsonArray(down.Select((t, i) => (JsonNode)InterpreterInputs.Token(t, context.TokenText, "logit_effect", downV[i])).ToArray()),
                ["definition"] = "logit_effect[t] = W_dec[feature] · W_U[:, t] (direct path; final LayerNorm scale ignored)",
            };
            var summary = $"promotes {string.Join(", ", up.Take(3).Select(t => InterpreterInputs.Show(t, context.TokenText)))}; " +
                          $"suppresses {string.Join(", ", down.Take(3).Select(t => InterpreterInputs.Show(t, context.TokenText)))}";
            result.Add(new FeatureExplanation(f, summary, details));
        }
        return result;
    }
}

public sealed record OutputEffectsOptions : MethodOptions
{
    [Option("tokens listed on each side (promoted and suppressed)")]
    public int TopN { get; init; } = 10;

    public override IEnumerable<OptionError> Validate()
    {
        if (TopN < 1) yield return new("top_n", "must be at least 1");
    }
}
