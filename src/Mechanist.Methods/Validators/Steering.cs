using System.Collections.Immutable;
using System.Globalization;
using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Methods.Concepts;
using Mechanist.Models;
using Mechanist.Options;
using Mechanist.Validators;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Mechanist.Methods.Validators;

/// <summary>
/// The causal test of a feature's claimed output: adding the feature's decoder direction to the site's activation
/// at a scale must raise the probability of the tokens it claims to promote by at least a set amount, while a random
/// direction of the same norm must not.
/// </summary>
[Validator("steering",
    Title = "Steering along a feature moves its claimed output",
    Summary = "For each tested latent f: its claimed output is the top_tokens tokens whose logit rises most relative to the others (on a claim half of the sequences) when its decoder direction is added at a twentieth of the steering amplitude — the feature's output effect through the rest of the model — unless claimed_tokens gives them. Then, on the other half, the decoder direction is added at every position with amplitude α = scale × (f's largest activation on the inputs): the log of the claimed tokens' total probability must rise by at least the threshold (MECH3003), while directions drawn at random with the same norm must not raise it by the threshold on average (MECH3004). Needs a model whose output is logits [batch, pos, vocab], a decomposition, its site and token ids.",
    Reference = "Turner et al. 2023, Activation Addition; Templeton et al. 2024, Scaling Monosemanticity (feature steering); Marks et al. 2024 (causal tests of features).",
    HelpLink = "docs/methods/steering.md",
    Requires = ValidationInputs.Model | ValidationInputs.Decomposition | ValidationInputs.Site | ValidationInputs.Tokens)]
public sealed class Steering : Validator<SteeringOptions>
{
    const string EffectDefinition =
        "Δ(v) = mean over positions of the held-out half of log Σ_{t ∈ C} p_t(x + v) − log Σ_{t ∈ C} p_t(x), natural log, v added to the site's activation at every position; C = the claimed tokens";

    public static readonly CheckDescriptor DoesNotMoveClaimedOutput = new(
        "MECH3003", "Steering along the feature does not move its claimed output",
        "steering along latent {0} (amplitude {1:0.###}) changes the log-probability of its claimed output {{{2}}} by {3:0.###} nats, below the threshold {4:0.###}",
        "Causal", Severity.Warning, CheckDescriptor.DocPath("MECH3003"),
        EffectDefinition + "; value = Δ(α · d_f), d_f the latent's decoder direction, α = scale × the latent's largest activation on the inputs",
        DefaultThreshold: 0.5, Direction: MetricDirection.HigherIsBetter);

    public static readonly CheckDescriptor RandomDirectionAsEffective = new(
        "MECH3004", "A random direction moves the claimed output as well",
        "random directions with the norm of latent {0}'s steering vector change the log-probability of its claimed output {{{1}}} by {2:0.###} nats on average (max {3:0.###}; the feature: {4:0.###}), at or above the threshold {5:0.###}: the effect is not specific to the feature",
        "Causal", Severity.Warning, CheckDescriptor.DocPath("MECH3004"),
        EffectDefinition + "; value = mean over random_draws directions r (Gaussian, seeded, scaled to ‖α · d_f‖) of Δ(r)",
        DefaultThreshold: 0.5, Direction: MetricDirection.LowerIsBetter);

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [DoesNotMoveClaimedOutput, RandomDirectionAsEffective];

    protected override void Validate(ValidationContext context, SteeringOptions options)
    {
        if (context.Model is not { } model || context.Decomposition is not { } decomposition || context.Site is not { } site || context.Tokens is not { } tokens)
        {
            context.CannotRun("it needs a model, a decomposition, its site and the token ids its activations were harvested from.");
            return;
        }
        using var scope = NewDisposeScope();
        foreach (var r in Run(model, decomposition, site, tokens, options, context.Seed, context.CancellationToken))
        {
            var claim = string.Join(", ", r.Claimed.Select(t => t.ToString(CultureInfo.InvariantCulture)));
            // Report measures the value of a finding; a value that passes is measured for the baseline all the same.
            if (context.ThresholdOf(DoesNotMoveClaimedOutput) is double need && !(r.Effect >= need))
                context.Report(DoesNotMoveClaimedOutput, [r.Feature, r.Amplitude, claim, r.Effect, need], r.Effect, r.Feature);
            else context.Measure(DoesNotMoveClaimedOutput, r.Effect, r.Feature);
            if (r.RandomEffects.Count == 0) continue;
            if (context.ThresholdOf(RandomDirectionAsEffective) is double allow && r.RandomMean >= allow)
                context.Report(RandomDirectionAsEffective, [r.Feature, claim, r.RandomMean, r.RandomEffects.Max(), r.Effect, allow], r.RandomMean, r.Feature);
            else context.Measure(RandomDirectionAsEffective, r.RandomMean, r.Feature);
        }
    }

    /// <summary>One feature's steering test.</summary>
    /// <param name="Claimed">Token ids of the claimed output.</param>
    /// <param name="Effect">Δ(α · d_f) on the held-out half (nats).</param>
    /// <param name="RandomEffects">Δ(r) for each random direction of the same norm.</param>
    /// <param name="CleanMass">Mean probability of the claimed tokens on the held-out half, unsteered.</param>
    /// <param name="SteeredMass">The same, steered along the feature.</param>
    public sealed record Outcome(int Feature, double Amplitude, IReadOnlyList<long> Claimed, double Effect, IReadOnlyList<double> RandomEffects,
        double CleanMass, double SteeredMass)
    {
        public double RandomMean => RandomEffects.Count == 0 ? double.NaN : RandomEffects.Average();
    }

    /// <summary>Runs the test on each chosen feature (see the class summary).</summary>
    public static IReadOnlyList<Outcome> Run(IHookedModel model, Decomposition decomposition, string site, Tensor tokens, SteeringOptions options, int seed,
        CancellationToken cancellation = default)
    {
        SiteActivations.RequireSite(model, site);
        if (decomposition.DOut != decomposition.DIn || decomposition.ReconstructsTargets)
            throw new MechanistInputException("steering adds decoder directions at the decomposition's own site; a decomposition that reconstructs another site (a transcoder) has none there.");
        if (tokens.ndim != 2 || tokens.shape[0] < 2)
            throw new MechanistInputException($"steering needs token ids [n_sequences ≥ 2, seq_len] (a claim half and a held-out half), got [{string.Join(", ", tokens.shape)}].");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var inputs = tokens.shape[0] > options.MaxSequences ? tokens.narrow(0, 0, options.MaxSequences) : tokens;
        long nSeq = inputs.shape[0];
        var order = RowSplit.Permutation(nSeq, seed);
        var claimHalf = inputs.index_select(0, tensor(order.Take((int)(nSeq / 2)).Order().ToArray()));
        var testHalf = inputs.index_select(0, tensor(order.Skip((int)(nSeq / 2)).Order().ToArray()));

        var rows = SiteActivations.Harvest(model, inputs, [site], cancellation: cancellation)[site];
        if (rows.shape[1] != decomposition.DIn)
            throw new MechanistInputException($"the decomposition's d_in is {decomposition.DIn} but {site} has width {rows.shape[1]}.");
        var device = decomposition.DecoderDirections.device;
        var latents = decomposition.Encode(rows.to(device)).cpu();
        var maxActivation = latents.max(0).values.to(ScalarType.Float64).data<double>().ToArray();
        var features = ConceptOptions.Ints("features", options.Features).ToList();
        foreach (var f in features)
            if (f >= decomposition.DSae) throw new MechanistInputException($"option 'features': latent {f} is out of range: the decomposition has {decomposition.DSae} latents.");
        if (features.Count == 0)
        {
            var firing = latents.gt(0).sum(dim: 0).data<long>().ToArray();
            features = Enumerable.Range(0, firing.Length).Where(i => firing[i] > 0).OrderByDescending(i => firing[i]).ThenBy(i => i).Take(options.MaxFeatures).ToList();
        }
        var explicitClaim = ConceptOptions.Ints("claimed_tokens", options.ClaimedTokens).Select(i => (long)i).ToList();

        var cleanClaimLogits = Logits(model, claimHalf, site, null);          // [positions, vocab]
        var cleanTestLogp = LogProbs(model, testHalf, site, null);
        long vocab = cleanTestLogp.shape[1];
        foreach (var t in explicitClaim)
            if (t >= vocab) throw new MechanistInputException($"option 'claimed_tokens': token {t} is outside the model's {vocab} outputs.");

        var results = new List<Outcome>();
        var rng = new Generator((ulong)seed + 17);
        foreach (var f in features)
        {
            cancellation.ThrowIfCancellationRequested();
            using var inner = NewDisposeScope();
            double amplitude = options.Scale * maxActivation[f];
            if (!(amplitude > 0)) continue;                                         // never fires on these inputs: nothing to scale by
            var direction = decomposition.DecoderDirections[f].to(ScalarType.Float32, CPU) * amplitude;
            IReadOnlyList<long> claimed = explicitClaim.Count > 0 ? explicitClaim : Claim(model, claimHalf, site, direction / 20.0, cleanClaimLogits, options.TopTokens);
            var claimIndex = tensor(claimed.ToArray());
            var cleanMass = cleanTestLogp.index_select(1, claimIndex).logsumexp(1);
            double Effect(Tensor v) => (LogProbs(model, testHalf, site, v).index_select(1, claimIndex).logsumexp(1) - cleanMass).mean().item<double>();
            var steeredLogMass = LogProbs(model, testHalf, site, direction).index_select(1, claimIndex).logsumexp(1);
            double effect = (steeredLogMass - cleanMass).mean().item<double>();
            var random = new List<double>();
            double norm = direction.norm().to(ScalarType.Float64).item<double>();
            for (int d = 0; d < options.RandomDraws; d++)
            {
                var r = randn(direction.shape, generator: rng);
                random.Add(Effect(r * (norm / r.norm().to(ScalarType.Float64).item<double>())));
            }
            results.Add(new Outcome(f, amplitude, claimed, effect, random, cleanMass.exp().mean().item<double>(), steeredLogMass.exp().mean().item<double>()));
        }
        return results;
    }

    /// <summary>
    /// The claimed output of a direction: the <paramref name="top"/> tokens whose logit rises most relative to the
    /// others, on average over positions, when <paramref name="small"/> is added — Δz_t − mean_t' Δz_t', the
    /// direction's output effect through the rest of the model (a logit lens that includes the later layers).
    /// </summary>
    static long[] Claim(IHookedModel model, Tensor tokens, string site, Tensor small, Tensor cleanLogits, int top)
    {
        var change = Logits(model, tokens, site, small) - cleanLogits;
        var centred = (change - change.mean([1], keepdim: true)).mean([0]);
        return centred.argsort(descending: true).narrow(0, 0, Math.Min(top, (int)centred.shape[0])).data<long>().ToArray();
    }

    static Tensor Logits(IHookedModel model, Tensor tokens, string site, Tensor? add) => Output(model, tokens, site, add).to(ScalarType.Float64);

    /// <summary>Log-probabilities [positions, vocab] of the model on <paramref name="tokens"/>, with <paramref name="add"/> added to the site at every position.</summary>
    static Tensor LogProbs(IHookedModel model, Tensor tokens, string site, Tensor? add) => Output(model, tokens, site, add).to(ScalarType.Float64).log_softmax(-1);

    /// <summary>The model's logits [positions, vocab] (CPU) with <paramref name="add"/> added to the site at every position.</summary>
    static Tensor Output(IHookedModel model, Tensor tokens, string site, Tensor? add)
    {
        Tensor output;
        if (add is null) output = model.Run(tokens);
        else
            using (model.AddHook(site, a => a + add.to(a.dtype, a.device).view([.. Enumerable.Repeat(1L, (int)a.ndim - 1), -1])))
                output = model.Run(tokens);
        if (output.ndim != 3)
            throw new MechanistInputException($"steering reads next-token logits [batch, pos, vocab]; the model returned [{string.Join(", ", output.shape)}].");
        return output.reshape(-1, output.shape[^1]).cpu();
    }
}

public sealed record SteeringOptions : MethodOptions
{
    [Option("latents tested, comma-separated (default: the max_features that fire on the most tokens)")]
    public string Features { get; init; } = "";

    [Option("latents tested when features is empty")]
    public int MaxFeatures { get; init; } = 8;

    [Option("steering amplitude as a multiple of the latent's largest activation on the inputs")]
    public double Scale { get; init; } = 2.0;

    [Option("size of the claimed output: the tokens whose logit the direction raises most relative to the others")]
    public int TopTokens { get; init; } = 3;

    [Option("the claimed output as token ids, comma-separated, for every tested latent (default: each latent's own top_tokens)")]
    public string ClaimedTokens { get; init; } = "";

    [Option("random directions of equal norm compared with each feature")]
    public int RandomDraws { get; init; } = 10;

    [Option("at most this many sequences of the token ids are used (half claim, half test)")]
    public int MaxSequences { get; init; } = 256;

    public override IEnumerable<OptionError> Validate()
    {
        if (MaxFeatures < 1) yield return new("max_features", "must be at least 1");
        if (!(Scale > 0)) yield return new("scale", "must be positive");
        if (TopTokens < 1) yield return new("top_tokens", "must be at least 1");
        if (RandomDraws < 0) yield return new("random_draws", "must be 0 or more");
        if (MaxSequences < 2) yield return new("max_sequences", "must be at least 2");
    }
}
