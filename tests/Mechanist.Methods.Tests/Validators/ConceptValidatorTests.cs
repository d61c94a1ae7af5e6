using Mechanist.Attribution;
using Mechanist.Concepts;
using Mechanist.Decomposers;
using Mechanist.Methods.Concepts;
using Mechanist.Methods.Tests.Concepts;
using Mechanist.Methods.Validators;
using Mechanist.Models.Runtime;
using Mechanist.Discovery;
using Mechanist.Host.Discovery;
using Mechanist.Host.Running;
using Mechanist.Options;
using Mechanist.Testing;
using Mechanist.Validators;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Validators;

/// <summary>
/// A model where any large perturbation raises one token: tokens → hook_resid = E[token] [B, T, 4] → logits
/// [B, T, 5] with logit 0 = ‖resid‖² and the others 0.
/// </summary>
sealed class NormModel : HookedModel
{
    readonly Tensor _e;
    readonly HookPoint _resid;

    public NormModel() : base("norm")
    {
        _e = randn(5, 4, generator: new Generator(3)) * 0.3;
        _resid = Site("hook_resid");
        RegisterComponents();
    }

    public override string ModelType => "test-norm";

    public override Tensor forward(Tensor tokens)
    {
        var r = _resid.call(_e.index_select(0, tokens.reshape(-1)).view(tokens.shape[0], tokens.shape[1], 4));
        var first = r.pow(2).sum(-1, keepdim: true);
        return cat([first, zeros(tokens.shape[0], tokens.shape[1], 4)], -1);
    }
}

public class ConceptValidatorTests
{
    const string Post = "blocks.0.hook_resid_post", Pre = "blocks.0.hook_resid_pre";

    /// <summary>Runs <paramref name="validator"/> the way the host does (<see cref="MethodRunner.Validate(BoundMethod, Validator, Func{Action{Finding}, Action{Measurement}, ValidationContext})"/>).</summary>
    static List<Finding> Run<TOptions>(Validator validator, TOptions options, Action<ValidationContextBuilder> build) where TOptions : MethodOptions
    {
        var b = new ValidationContextBuilder();
        build(b);
        var entry = new MethodEntry(MethodDescriptor.FromType(validator.GetType()), validator.GetType(), "built-in");
        var run = MethodRunner.Validate(new BoundMethod(entry, options), validator, (report, measure) => new ValidationContext(report, measure)
        {
            Options = options, Model = b.Model, Tokens = b.Tokens, Site = b.Site, Decomposition = b.Decomposition, Behaviour = b.Behaviour,
            ConceptLabels = b.Labels, MethodId = entry.Id,
        });
        Assert.DoesNotContain(run.Findings, f => f.Id == "MECH0001");
        return run.Findings.ToList();
    }

    sealed class ValidationContextBuilder
    {
        public Mechanist.Models.IHookedModel? Model { get; set; }
        public Tensor? Tokens { get; set; }
        public string? Site { get; set; }
        public Decomposition? Decomposition { get; set; }
        public Behaviour? Behaviour { get; set; }
        public ConceptLabels? Labels { get; set; }
    }

    /// <summary>Labels (with their tokens) written to a file, as a configuration would name them.</summary>
    static string LabelsFile(TempDir temp, int n = 160, int length = 12, int seed = 4)
    {
        var (tokens, labels) = ParityModel.Data(n, length, seed);
        var path = temp.File("labels.safetensors");
        ConceptLabels.Save(path, labels.Shape, labels.Names.Select(c => labels[c]), tokens);
        return path;
    }

    /// <summary>The identity basis of the residual as a ReLU dictionary: latent i = ReLU(x_i), latent 8 + i = ReLU(−x_i).</summary>
    static StandardSae Basis(int skip = -1)
    {
        var rows = Enumerable.Range(0, ParityModel.D).Where(i => i != skip).ToArray();
        var basis = eye(ParityModel.D).index_select(0, tensor(rows.Select(i => (long)i).ToArray()));
        return StandardSae.FromSignedLinear(basis, basis, zeros(ParityModel.D));
    }

    [Fact]
    public void Probe_selectivity_is_reported_where_the_concept_is_absent_and_not_where_it_is_computed()
    {
        using var temp = new TempDir();
        using var model = new ParityModel();
        var labels = ConceptLabels.Load(LabelsFile(temp));
        var options = new ConceptProbeOptions { Concept = "parity", Control = ControlKey.TokenPosition };
        var before = Run(new ConceptProbe(), options, b => { b.Model = model; b.Site = Pre; b.Labels = labels; });
        var finding = Assert.Single(before);
        Assert.Equal("MECH4002", finding.Id);
        Assert.Equal(Pre, finding.Location.Site);
        Assert.True(finding.Value < 0.1);
        Assert.Contains("a linear probe for 'parity' at blocks.0.hook_resid_pre", finding.Message);
        Assert.Empty(Run(new ConceptProbe(), options, b => { b.Model = model; b.Site = Post; b.Labels = labels; }));
        // Without labels the claim cannot be tested, and the gate says so (MECH0013) rather than passing it.
        var cannot = Assert.Single(Run(new ConceptProbe(), options, b => { b.Model = model; b.Site = Pre; }));
        Assert.Equal("MECH0013", cannot.Id);
        Assert.Contains("concept labels", cannot.Message);
    }

    [Fact]
    public void Tcav_is_reported_for_shuffled_labels_and_not_for_the_true_concept()
    {
        using var temp = new TempDir();
        using var model = new ParityModel();
        var labels = ConceptLabels.Load(LabelsFile(temp));
        var tokens = labels.Tokens!;
        var behaviour = new Behaviour(tokens.narrow(0, 0, 80), o => o[.., -1, ParityModel.Promoted], "logit of token 3 at the last position");
        List<Finding> Tcav(string concept) => Run(new ConceptTcav(), new ConceptTcavOptions { Concept = concept, Class = "odd", RandomCavs = 12, Examples = 80 },
            b => { b.Model = model; b.Site = Post; b.Behaviour = behaviour; b.Labels = labels; });
        Assert.Empty(Tcav("parity"));
        var finding = Assert.Single(Tcav("parity_shuffled"));
        Assert.Equal("MECH4003", finding.Id);
        Assert.True(finding.Value >= 0.05, $"p = {finding.Value}");
        var bad = Assert.Throws<MechanistInputException>(() => Tcav("parity") is var _ && Run(new ConceptTcav(),
            new ConceptTcavOptions { Concept = "parity", Class = "uneven" }, b => { b.Model = model; b.Site = Post; b.Behaviour = behaviour; b.Labels = labels; }).Count > 0);
        Assert.Contains("no class 'uneven'", bad.Message);
    }

    [Fact]
    public void Ablating_a_latent_that_carries_the_concept_lowers_the_probe_and_a_claimed_bystander_is_reported()
    {
        using var temp = new TempDir();
        using var model = new ParityModel();
        using var sae = Basis();
        var labels = ConceptLabels.Load(LabelsFile(temp));
        var options = new ConceptAblationOptions { Concept = "parity", Class = "odd", Features = "0,1" };
        var findings = Run(new ConceptAblation(), options, b => { b.Model = model; b.Site = Post; b.Decomposition = sae; b.Labels = labels; });
        var finding = Assert.Single(findings);
        Assert.Equal("MECH4004", finding.Id);
        Assert.Equal(1, finding.Location.Feature);
        // Unclaimed, the latent that fires most on odd parity is the one along e₀, and it passes.
        Assert.Empty(Run(new ConceptAblation(), options with { Features = "", TopK = 1 }, b => { b.Model = model; b.Site = Post; b.Decomposition = sae; b.Labels = labels; }));
        var result = ConceptAttribution.Run(model, labels.Tokens!, labels["parity"], 1, Post, Post, sae,
            new ConceptAttribution.Settings { Units = [0] }, 0);
        // Zeroing ReLU(x₀) moves odd tokens from x₀ = 1 to 0, halfway to the even tokens' −1: about half the margin.
        Assert.InRange(result.Scores[0].Fraction, 0.3, 0.7);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Sparse_probing_is_reported_for_a_dictionary_without_the_concepts_direction()
    {
        using var temp = new TempDir();
        using var model = new ParityModel();
        var labels = ConceptLabels.Load(LabelsFile(temp));
        var options = new ConceptSparseProbingOptions { Concept = "parity", K = 2 };
        using var full = Basis();
        Assert.Empty(Run(new ConceptSparseProbing(), options, b => { b.Model = model; b.Site = Post; b.Decomposition = full; b.Labels = labels; }));
        using var blind = Basis(skip: 0);
        var findings = Run(new ConceptSparseProbing(), options, b => { b.Model = model; b.Site = Post; b.Decomposition = blind; b.Labels = labels; });
        Assert.Equal(2, findings.Count);
        Assert.All(findings, f => Assert.Equal("MECH4005", f.Id));
        Assert.All(findings, f => Assert.True(f.Value > 0.3, $"gap {f.Value}"));
    }

    [Fact]
    public void Steering_along_a_latent_moves_its_claimed_token_and_a_latent_without_output_is_reported()
    {
        using var model = new ParityModel();
        using var sae = Basis();
        var (tokens, _) = ParityModel.Data(60, 12, 7);
        var options = new SteeringOptions { Features = $"0,{ParityModel.D - 1}", TopTokens = 1, Scale = 1 };
        var outcomes = Steering.Run(model, sae, Post, tokens, options, 0);
        var e0 = outcomes.Single(o => o.Feature == 0);
        Assert.Equal([(long)ParityModel.Promoted], e0.Claimed);
        Assert.True(e0.Effect > 1, $"effect {e0.Effect}");
        Assert.True(e0.RandomMean < 0.5, $"random {e0.RandomMean}");
        Assert.True(e0.SteeredMass > e0.CleanMass);
        var findings = Run(new Steering(), options, b => { b.Model = model; b.Site = Post; b.Decomposition = sae; b.Tokens = tokens; });
        var finding = Assert.Single(findings);
        Assert.Equal("MECH3003", finding.Id);
        Assert.Equal(ParityModel.D - 1, finding.Location.Feature);
        Assert.Equal(0.0, finding.Value!.Value, 9);           // the last coordinate has no path to the logits
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Steering_reports_a_claim_that_random_directions_of_equal_norm_move_as_well()
    {
        using var model = new NormModel();
        using var sae = StandardSae.FromSignedLinear(eye(4), eye(4), zeros(4));
        var tokens = randint(0, 5, [40, 6], generator: new Generator(2));
        var findings = Run(new Steering(), new SteeringOptions { Features = "0", Scale = 20, TopTokens = 1 },
            b => { b.Model = model; b.Site = "hook_resid"; b.Decomposition = sae; b.Tokens = tokens; });
        var finding = Assert.Single(findings);
        Assert.Equal("MECH3004", finding.Id);
        Assert.Contains("claimed output {0}", finding.Message);
    }
}
