using System.Collections.Immutable;
using System.Globalization;
using Mechanist.Attribution;
using Mechanist.Discovery;
using Mechanist.Methods.Attribution;
using Mechanist.Options;
using Mechanist.Validators;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Mechanist.Methods.Validators;

/// <summary>
/// The causal test of a feature-level explanation of a behaviour: the k features feature attribution credits with
/// the behaviour are ablated (their latents set to zero, the error node kept) and must remove at least a set
/// fraction of it, while random sets of k other active features must not.
/// </summary>
[Validator("causal.ablation",
    Title = "Causal ablation of credited features",
    Summary = "Splices the decomposition at the site with its error node, credits features with the behaviour by feature attribution, then ablates the top-k credited features (latents set to zero, error kept): they must remove at least a set fraction of the behaviour the features carry (MECH3001), while random sets of k other active features must not (MECH3002). Needs a model, a decomposition, its site and a behaviour.",
    Reference = "Marks et al. 2024, Sparse Feature Circuits (faithfulness by ablation); Chan et al. 2022, Causal Scrubbing.",
    HelpLink = "docs/methods/causal.ablation.md",
    Requires = ValidationInputs.Model | ValidationInputs.Decomposition | ValidationInputs.Site | ValidationInputs.Behaviour | ValidationInputs.DifferentiableMetric)]
public sealed class CausalAblation : Validator<CausalAblationOptions>
{
    const string FractionDefinition =
        "fraction(S) = (mean_b M_b(spliced) − mean_b M_b(spliced, latents in S set to 0)) / (mean_b M_b(spliced) − mean_b M_b(spliced, every latent set to 0)), error node kept in every run";

    public static readonly CheckDescriptor CreditedFeaturesNotNecessary = new(
        "MECH3001", "Ablating the credited features does not remove the behaviour",
        "ablating the {0} features credited with '{1}' ({2}) removes {3:0.#%} of the behaviour the features carry, below the threshold {4:0.#%}",
        "Causal", Severity.Warning, CheckDescriptor.DocPath("MECH3001"),
        FractionDefinition + "; S = the top-k latents by feature attribution summed over examples and positions", DefaultThreshold: 0.5,
        Direction: MetricDirection.HigherIsBetter);

    public static readonly CheckDescriptor RandomFeaturesAsEffective = new(
        "MECH3002", "Random features remove the behaviour as well",
        "random sets of {0} active features remove {1:0.#%} of '{2}' on average (max {3:0.#%}; the credited set: {4:0.#%}), at or above the threshold {5:0.#%}: the credit is not specific",
        "Causal", Severity.Warning, CheckDescriptor.DocPath("MECH3002"),
        FractionDefinition + "; averaged over random_draws sets S of k latents drawn uniformly from the active latents outside the credited set",
        DefaultThreshold: 0.25, Direction: MetricDirection.LowerIsBetter);

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [CreditedFeaturesNotNecessary, RandomFeaturesAsEffective];

    protected override void Validate(ValidationContext context, CausalAblationOptions options)
    {
        if (context.Model is not { } model || context.Behaviour is not { } behaviour || context.Decomposition is not { } decomposition || context.Site is not { } site)
        {
            context.CannotRun("it needs a model, a decomposition, its site and a behaviour.");
            return;
        }
        using var scope = NewDisposeScope();
        var result = Run(model, decomposition, site, behaviour, options, context.Seed, context.CancellationToken);
        if (result is null)
        {
            context.CannotRun($"with every latent set to zero the behaviour '{behaviour.Description}' does not change (or no latent is credited with it), so there is no credited set to test: the decomposition's features at {site} carry none of it.");
            return;
        }
        var r = result.Value;
        if (!r.Carries(options.Significance))
        {
            context.CannotRun(string.Create(CultureInfo.InvariantCulture,
                $"with every latent set to zero the behaviour '{behaviour.Description}' changes by {r.Behaviour:0.####} on average, within {options.Significance:0.#} standard errors ({r.CarriedError:0.####}) of no change (the metric's mean is {r.Clean:0.####}, its standard deviation {r.Spread:0.####}): the decomposition's features at {site} do not carry the behaviour, so the credit given to any of them cannot be tested."));
            return;
        }
        context.Measure(CreditedFeaturesNotNecessary, r.CreditedFraction);
        if (r.RandomFractions.Count > 0) context.Measure(RandomFeaturesAsEffective, r.RandomMean);
        context.Logger.LogInformation("the mean metric is {Clean:0.####} (standard deviation {Spread:0.####} over the inputs); the features carry {Carried:0.####} of it; ablating the credited {K} ({Credited}) removes {Fraction:0.#%}, random sets {Random:0.#%} on average",
            r.Clean, r.Spread, r.Behaviour, r.Credited.Count, string.Join(", ", r.Credited), r.CreditedFraction, r.RandomFractions.Count > 0 ? r.RandomMean : double.NaN);
        var credited = string.Join(", ", r.Credited.Select(i => i.ToString(CultureInfo.InvariantCulture)));
        if (context.ThresholdOf(CreditedFeaturesNotNecessary) is double need && r.CreditedFraction < need)
            context.Report(CreditedFeaturesNotNecessary, [r.Credited.Count, behaviour.Description, credited, r.CreditedFraction, need], r.CreditedFraction);
        if (context.ThresholdOf(RandomFeaturesAsEffective) is double allow && r.RandomFractions.Count > 0 && r.RandomMean >= allow)
            context.Report(RandomFeaturesAsEffective, [r.Credited.Count, r.RandomMean, behaviour.Description, r.RandomFractions.Max(), r.CreditedFraction, allow], r.RandomMean);
    }

    /// <summary>The outcome of one ablation test.</summary>
    /// <param name="Behaviour">What the features carry: mean metric spliced minus mean metric with every latent set to zero.</param>
    /// <param name="Clean">The mean metric with the decomposition spliced in (error node kept).</param>
    /// <param name="Spread">The standard deviation of the metric over the examples, spliced in.</param>
    /// <param name="CarriedError">The standard error of <paramref name="Behaviour"/>: std_b(M_b(spliced) − M_b(all latents zero)) / √B.</param>
    public readonly record struct Outcome(IReadOnlyList<int> Credited, double CreditedFraction, IReadOnlyList<double> RandomFractions, double Behaviour,
        double Clean = double.NaN, double Spread = double.NaN, double CarriedError = 0)
    {
        /// <summary>Whether what the features carry stands out from the noise: |carried| > significance × its standard error.</summary>
        public bool Carries(double significance) => Math.Abs(Behaviour) > significance * CarriedError;

        public double RandomMean => RandomFractions.Count == 0 ? double.NaN : RandomFractions.Average();
    }

    /// <summary>Runs the test; null when the features carry none of the behaviour or none is credited.</summary>
    public static Outcome? Run(Mechanist.Models.IHookedModel model, Mechanist.Decomposers.Decomposition decomposition, string site, Behaviour behaviour,
        CausalAblationOptions options, int seed, CancellationToken cancellation = default)
    {
        using var scope = NewDisposeScope();
        var splice = new FeatureSplice(model, decomposition, site, options.OutputSite);
        var x = behaviour.Input;
        long batch = x.shape[0];
        var attribution = new FeatureAttribution().Attribute(new AttributionContext
        {
            Model = model, Input = x, Metric = behaviour.Metric, ExampleMetric = behaviour.ExampleMetric, MetricDescription = behaviour.Description, Site = site,
            Decomposition = decomposition, Seed = seed, CancellationToken = cancellation,
            Options = new FeatureAttributionOptions { Method = options.Credit, Steps = options.Steps, OutputSite = options.OutputSite },
        });
        using var noGrad = no_grad();
        var state = splice.State(x, out _);
        var latents = splice.Latents(state);
        var credit = attribution.Scores.reshape(-1, splice.DSae).sum(dim: 0).to(ScalarType.Float64).data<double>().ToArray();
        var credited = Enumerable.Range(0, credit.Length).Where(i => credit[i] > 0).OrderByDescending(i => credit[i]).Take(options.TopK).ToList();
        if (credited.Count == 0) return null;

        double MeanMetric(Tensor s) => behaviour.Metric(splice.Run(x, s)).mean().to(ScalarType.Float64).item<double>();
        var cleanValues = behaviour.Metric(splice.Run(x, state)).to(ScalarType.Float64);
        double spread = cleanValues.numel() > 1 ? cleanValues.std().item<double>() : 0;
        double clean = cleanValues.mean().item<double>();
        var allOff = state.clone();
        splice.Latents(allOff).zero_();
        var differences = cleanValues - behaviour.Metric(splice.Run(x, allOff)).to(ScalarType.Float64);
        double carried = differences.mean().item<double>();
        double carriedError = batch > 1 ? differences.std().item<double>() / Math.Sqrt(batch) : 0;
        if (Math.Abs(carried) <= 1e-9 * (Math.Abs(clean) + 1)) return null;

        double Fraction(IReadOnlyList<int> features)
        {
            using var inner = NewDisposeScope();
            var ablated = state.clone();
            var index = tensor(features.Select(i => (long)i).ToArray(), device: state.device);
            splice.Latents(ablated).index_fill_(-1, index, 0);
            return (clean - MeanMetric(ablated)) / carried;
        }

        double creditedFraction = Fraction(credited);
        var active = latents.reshape(-1, splice.DSae).ne(0).any(0).to(ScalarType.Bool).data<bool>().ToArray();
        var pool = Enumerable.Range(0, active.Length).Where(i => active[i] && !credited.Contains(i)).ToList();
        var random = new List<double>();
        if (pool.Count >= credited.Count)
        {
            var rng = new Random(seed);
            for (int draw = 0; draw < options.RandomDraws; draw++)
            {
                cancellation.ThrowIfCancellationRequested();
                var set = pool.OrderBy(_ => rng.Next()).Take(credited.Count).ToList();
                random.Add(Fraction(set));
            }
        }
        return new Outcome(credited, creditedFraction, random, carried, clean, spread, carriedError);
    }
}

public sealed record CausalAblationOptions : MethodOptions
{
    [Option("number of credited features ablated together (the top-k by feature attribution)")]
    public int TopK { get; init; } = 5;

    [Option("random feature sets of the same size to compare with")]
    public int RandomDraws { get; init; } = 10;

    [Option("how features are credited: gradient (gradient × activation) or integrated (path-integrated)")]
    public FeatureAttributionMethod Credit { get; init; } = FeatureAttributionMethod.Integrated;

    [Option("quadrature points when credit=integrated")]
    public int Steps { get; init; } = 16;

    [Option("for a transcoder: the site its output replaces (the validated site is its input); empty for an SAE")]
    public string OutputSite { get; init; } = "";

    [Option("the features must change the behaviour by more than this many standard errors when all are set to zero, else there is nothing to test")]
    public double Significance { get; init; } = 3;

    public override IEnumerable<OptionError> Validate()
    {
        if (TopK < 1) yield return new("top_k", "must be at least 1");
        if (Significance < 0) yield return new("significance", "must be 0 or more");
        if (RandomDraws < 0) yield return new("random_draws", "must be 0 or more");
        if (Steps < 1) yield return new("steps", "must be at least 1");
    }
}
