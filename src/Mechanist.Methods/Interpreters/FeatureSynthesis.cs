using System.Text.Json.Nodes;
using Mechanist.Discovery;
using Mechanist.Interpreters;
using Mechanist.Methods.Attribution;
using Mechanist.Models;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Methods.Interpreters;

/// <summary>What feature synthesis optimises.</summary>
public enum SynthesisMode
{
    /// <summary>Chosen from the template: soft tokens for token ids (or a language model without a template), else input.</summary>
    Auto,

    /// <summary>A continuous model input shaped like the template.</summary>
    Input,

    /// <summary>Soft token embeddings written over the embedding site of a token model.</summary>
    SoftTokens,
}

/// <summary>
/// Feature synthesis (activation maximisation): optimise an input — a continuous input, or soft token embeddings
/// at the embedding site — to maximise a feature, with an L2 penalty, from a seeded random start, with Adam.
/// </summary>
[Interpreter("feature-synthesis",
    Title = "Feature synthesis by input optimisation",
    Summary = "Maximises each feature by gradient ascent (Adam) on an input: a continuous input shaped like the template, or soft token embeddings replacing the activation at the embedding site of a token model. Objective: f_i(x) + direction_weight · cos(a, W_dec[i]) − l2 · mean(x²), a the site's activation (the cosine term gives a gradient while the feature is still off). Seeded; reports the activation reached, the synthesised input and, for soft tokens, the nearest real tokens.",
    Reference = "Erhan et al. 2009, Visualizing Higher-Layer Features of a Deep Network; Olah et al. 2017, Feature Visualization.",
    HelpLink = "docs/methods/feature-synthesis.md")]
public sealed class FeatureSynthesis : Interpreter<FeatureSynthesisOptions>
{
    protected override IReadOnlyList<FeatureExplanation> Interpret(InterpretContext context, FeatureSynthesisOptions options)
    {
        var model = context.Model ?? throw new MechanistInputException("feature-synthesis needs a model (--model DIR).");
        var site = context.Site ?? context.Decomposition.Metadata.HookName;
        if (string.IsNullOrEmpty(site))
            throw new MechanistInputException("feature-synthesis needs the decomposition's hook site (--site, or metadata.hook_name in cfg.json).");
        AttributionCore.RequireSite(model, site);
        if (options.Mode == SynthesisMode.Auto) options = options with { Mode = InferMode(context.InputTemplate, model) };
        var template = context.InputTemplate ?? throw new MechanistInputException(
            options.Mode == SynthesisMode.SoftTokens
                ? "feature-synthesis with mode=soft_tokens needs template tokens [1, seq_len] (--tokens)."
                : "feature-synthesis with mode=input needs a template input [1, …] (--input) for the shape to optimise.");
        if (options.Mode == SynthesisMode.Input && !template.is_floating_point())
            throw new MechanistInputException(
                $"feature-synthesis mode=input optimises a continuous input, but the template is {template.dtype}; use --set mode=soft_tokens for token models.");
        if (options.Mode == SynthesisMode.SoftTokens)
            AttributionCore.RequireSite(model, options.EmbedSite);
        template = template.shape[0] == 1 ? template : template.narrow(0, 0, 1);

        var features = InterpreterInputs.Features(context);
        var result = new List<FeatureExplanation>();
        foreach (var feature in features)
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            result.Add(Synthesise(context, model, site, template, feature, options));
        }
        return result;
    }

    /// <summary>Token ids can only be optimised as soft tokens; a continuous input as itself.</summary>
    static SynthesisMode InferMode(Tensor? template, IHookedModel model) => template is null
        ? model is ILanguageModel ? SynthesisMode.SoftTokens : SynthesisMode.Input
        : template.is_floating_point() ? SynthesisMode.Input : SynthesisMode.SoftTokens;

    FeatureExplanation Synthesise(InterpretContext context, IHookedModel model, string site, Tensor template, int feature, FeatureSynthesisOptions options)
    {
        using var scope = NewDisposeScope();
        var decomposition = context.Decomposition;
        var generator = new Generator((ulong)(context.Seed + feature));
        Tensor start;
        using (no_grad())
        {
            if (options.Mode == SynthesisMode.Input)
                start = randn(template.shape, template.dtype, generator: generator) * options.InitScale;
            else
            {
                var embed = AttributionCore.Cache(model, template, [options.EmbedSite], out _)[options.EmbedSite];
                start = embed + randn(embed.shape, embed.dtype, generator: generator) * options.InitScale * embed.std();
            }
        }
        var direction = decomposition.DecoderDirections[feature].to(ScalarType.Float32);
        direction = direction / direction.norm().clamp_min(1e-12);

        // Adam on x, by hand (no parameter registration needed).
        var x = start.clone().requires_grad_(true);
        var m = zeros_like(x);
        var v = zeros_like(x);
        double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
        double initial = double.NaN, best = double.NegativeInfinity;
        Tensor bestX = start.clone();
        for (int step = 0; step <= options.Steps; step++)
        {
            using var stepScope = NewDisposeScope();
            using var grad = enable_grad();
            var (activation, a) = FeatureValue(model, site, template, x, decomposition, feature, options);
            double value = activation.item<float>();
            if (step == 0) initial = value;
            if (value > best)
            {
                best = value;
                bestX.Dispose();
                bestX = x.detach().clone().MoveToOuterDisposeScope();
            }
            if (step == options.Steps) break;
            var cosine = (a.to(ScalarType.Float32) * direction).sum() / a.to(ScalarType.Float32).norm().clamp_min(1e-12);
            var objective = activation + options.DirectionWeight * cosine - options.L2 * x.to(ScalarType.Float32).pow(2).mean();
            var g = AttributionCore.Gradient(-objective, x);
            using (no_grad())
            {
                m.mul_(beta1).add_(g, 1 - beta1);
                v.mul_(beta2).addcmul_(g, g, 1 - beta2);
                var mHat = m / (1 - Math.Pow(beta1, step + 1));
                var vHat = v / (1 - Math.Pow(beta2, step + 1));
                x.sub_(options.LearningRate * mHat / (vHat.sqrt() + eps));
            }
        }

        var details = new JsonObject
        {
            ["mode"] = OptionSchema.FormatValue(options.Mode),
            ["site"] = site,
            ["steps"] = options.Steps,
            ["activation_initial"] = Math.Round(initial, 6),
            ["activation_final"] = Math.Round(best, 6),
            ["input_norm"] = Math.Round(bestX.to(ScalarType.Float64).norm().item<double>(), 6),
            ["shape"] = new JsonArray(bestX.shape.Select(s => (JsonNode)s).ToArray()),
        };
        if (bestX.numel() <= options.MaxReportedValues)
            details["input"] = new JsonArray(bestX.reshape(-1).to(ScalarType.Float64).data<double>().Select(d => (JsonNode)Math.Round(d, 6)).ToArray());
        string summary = $"synthesised {(options.Mode == SynthesisMode.Input ? "input" : "soft tokens")} reach activation {best:0.###} (from {initial:0.###})";
        if (options.Mode == SynthesisMode.SoftTokens && context.Embedding is { } embedding)
        {
            var nearest = NearestTokens(bestX.reshape(-1, bestX.shape[^1]), embedding, context.TokenText);
            details["nearest_tokens"] = nearest.Json;
            summary += "; nearest tokens " + nearest.Summary;
        }
        return new FeatureExplanation(feature, summary, details);
    }

    /// <summary>The feature's value at the configured position and the site activation it was read from.</summary>
    static (Tensor Value, Tensor Activation) FeatureValue(IHookedModel model, string site, Tensor template, Tensor x,
        Mechanist.Decomposers.Decomposition decomposition, int feature, FeatureSynthesisOptions options)
    {
        Tensor? a = null;
        using (var hooks = new HookSet(model))
        {
            if (options.Mode == SynthesisMode.SoftTokens) hooks.Add(options.EmbedSite, e => x.to(e.dtype));
            hooks.Add(site, act => { a = act; return null; });
            model.Run(options.Mode == SynthesisMode.Input ? x : template);
        }
        if (a is null) throw new InvalidOperationException($"hook site {site} did not fire.");
        if (a.shape[^1] != decomposition.DIn)
            throw new MechanistInputException($"the decomposition's d_in is {decomposition.DIn} but the activation at '{site}' has width {a.shape[^1]}.");
        var rows = a.reshape(-1, a.shape[^1]);
        if (a.ndim >= 3)
        {
            long length = a.shape[1];
            long pos = options.Position < 0 ? length + options.Position : options.Position;
            if (pos < 0 || pos >= length)
                throw new MechanistInputException($"position {options.Position} is outside the {length} positions of '{site}'.");
            rows = a.select(1, pos).reshape(-1, a.shape[^1]);
        }
        var f = decomposition.Encode(rows).select(1, feature).mean();
        return (f, rows.mean([0]));
    }

    static (JsonArray Json, string Summary) NearestTokens(Tensor soft, Tensor embedding, Func<long, string>? text)
    {
        using var scope = NewDisposeScope();
        var e = embedding.to(ScalarType.Float32, CPU);
        var s = soft.detach().to(ScalarType.Float32, CPU);
        var cos = nn.functional.normalize(s, dim: 1).matmul(nn.functional.normalize(e, dim: 1).t());
        var (values, index) = cos.topk((int)Math.Min(3, e.shape[0]), dim: 1);
        var json = new JsonArray();
        var best = new List<string>();
        for (int p = 0; p < s.shape[0]; p++)
        {
            var ids = index[p].data<long>().ToArray();
            var vs = values[p].data<float>().ToArray();
            json.Add(new JsonArray(ids.Select((id, i) => (JsonNode)InterpreterInputs.Token(id, text, "cosine", vs[i])).ToArray()));
            best.Add(InterpreterInputs.Show(ids[0], text));
        }
        return (json, string.Join(" ", best));
    }
}

public sealed record FeatureSynthesisOptions : MethodOptions
{
    [Option("auto (soft_tokens for a token-id template, input for a continuous one), input (optimise a continuous input shaped like the template) or soft_tokens (optimise embeddings at embed_site)")]
    public SynthesisMode Mode { get; init; } = SynthesisMode.Auto;

    [Option("Adam steps")]
    public int Steps { get; init; } = 200;

    [Option("Adam learning rate")]
    public double LearningRate { get; init; } = 0.05;

    [Option("weight of the L2 penalty mean(x²) on the optimised input")]
    public double L2 { get; init; } = 0.01;

    [Option("weight of cos(activation, decoder direction) in the objective (a gradient while the feature is off)")]
    public double DirectionWeight { get; init; } = 0.1;

    [Option("scale of the random start (for soft_tokens, relative to the embeddings' standard deviation)")]
    public double InitScale { get; init; } = 0.1;

    [Option("position whose feature value is maximised for sequence sites (negative counts from the end)")]
    public int Position { get; init; } = -1;

    [Option("the embedding site soft tokens replace")]
    public string EmbedSite { get; init; } = "hook_embed";

    [Option("the synthesised input is written out when it has at most this many values")]
    public int MaxReportedValues { get; init; } = 4096;

    public override IEnumerable<OptionError> Validate()
    {
        if (Steps < 1) yield return new("steps", "must be at least 1");
        if (!(LearningRate > 0)) yield return new("learning_rate", "must be positive");
        if (L2 < 0) yield return new("l2", "must be 0 or more");
        if (InitScale < 0) yield return new("init_scale", "must be 0 or more");
        if (MaxReportedValues < 0) yield return new("max_reported_values", "must be 0 or more");
    }
}
