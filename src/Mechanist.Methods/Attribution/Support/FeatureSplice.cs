using Mechanist.Decomposers;
using Mechanist.Models;
using static Mechanist.Methods.Attribution.AttributionCore;
using static TorchSharp.torch;

namespace Mechanist.Methods.Attribution;

/// <summary>
/// A decomposition spliced into a model: latents f = Encode(a_in) at the input site, and the output site's
/// activation written as Decode(f) + e with the error node e = a_out − Decode(f). For an SAE both sites are the
/// same; for a transcoder the input site is the MLP input and the output site the MLP output. With the error node
/// the spliced run reproduces the clean run; latents and error can then be ablated or differentiated separately.
/// The state z = [f, e] (last axis: d_sae latents, then d_out error) travels as one tensor in the activation's dtype.
/// </summary>
public sealed class FeatureSplice
{
    readonly IHookedModel _model;
    readonly Decomposition _decomposition;

    public FeatureSplice(IHookedModel model, Decomposition decomposition, string inputSite, string? outputSite = null)
    {
        _model = model;
        _decomposition = decomposition;
        InputSite = inputSite;
        OutputSite = string.IsNullOrEmpty(outputSite) ? inputSite : outputSite;
        RequireSite(model, InputSite);
        RequireSite(model, OutputSite);
    }

    public string InputSite { get; }
    public string OutputSite { get; }
    public int DSae => _decomposition.DSae;

    /// <summary>
    /// Runs the model on <paramref name="input"/> and returns z = [f, e] [batch, …, d_sae + d_out] and the model output.
    /// Throws an input error when the decomposition's d_in does not match the input site or its output the output site.
    /// </summary>
    public Tensor State(Tensor input, out Tensor output)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var cache = Cache(_model, input, [InputSite, OutputSite], out output);
        var aIn = cache[InputSite];
        var aOut = cache[OutputSite];
        if (aIn.shape[^1] != _decomposition.DIn)
            throw new MechanistInputException(
                $"the decomposition's d_in is {_decomposition.DIn} but the activation at '{InputSite}' has width {aIn.shape[^1]} (shape {Shape(aIn)}); use a decomposition trained on this site.");
        var lead = aIn.shape[..^1];
        var f = _decomposition.Encode(aIn.reshape(-1, aIn.shape[^1])).reshape([.. lead, _decomposition.DSae]);
        var recon = Decode(f, aOut);
        var e = aOut - recon;
        output = output.MoveToOuterDisposeScope();
        return cat([f.to(aOut.dtype), e], -1).MoveToOuterDisposeScope();
    }

    /// <summary>A reference state of all latents off and no error (the site then holds the decoder's bias).</summary>
    public static Tensor ZeroState(Tensor state) => zeros_like(state);

    /// <summary>The latents part of a state, [.., d_sae].</summary>
    public Tensor Latents(Tensor state) => state.narrow(-1, 0, DSae);

    /// <summary>The error part of a state, [.., d_out].</summary>
    public Tensor Error(Tensor state) => state.narrow(-1, DSae, state.shape[^1] - DSae);

    /// <summary>Runs <paramref name="input"/> with the output site set to Decode(f) + e from <paramref name="state"/> (gradients flow to it).</summary>
    public Tensor Run(Tensor input, Tensor state)
    {
        using var hooks = new HookSet(_model);
        hooks.Add(OutputSite, a =>
        {
            if (!state.shape[..^1].SequenceEqual(a.shape[..^1]))
                throw new InvalidOperationException($"spliced state {Shape(state)} does not match the activation {Shape(a)} at {OutputSite}.");
            return Decode(Latents(state), a) + Error(state).to(a.dtype);
        });
        return _model.Run(input);
    }

    Tensor Decode(Tensor latents, Tensor like)
    {
        var flat = latents.reshape(-1, latents.shape[^1]).to(ScalarType.Float32);
        var x = _decomposition.Decode(flat);
        if (x.shape[^1] != like.shape[^1])
            throw new MechanistInputException(
                $"the decomposition decodes to width {x.shape[^1]} but the activation at '{OutputSite}' has width {like.shape[^1]}.");
        return x.to(like.dtype).reshape(like.shape);
    }
}
