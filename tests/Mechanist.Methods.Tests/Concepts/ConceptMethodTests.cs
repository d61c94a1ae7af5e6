using Mechanist.Attribution;
using Mechanist.Concepts;
using Mechanist.Methods.Concepts;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Concepts;

public class ConceptMethodTests
{
    static readonly ProbeSettings Probe = new() { Control = ControlKey.TokenPosition };

    [Fact]
    public void Control_labels_are_a_function_of_the_key_with_the_concepts_class_frequencies()
    {
        var (tokens, labels) = ParityModel.Data(300, 16, 3);
        var ids = tokens.reshape(-1).data<long>().ToArray();
        var concept = labels["low"];
        var byToken = ControlTask.Create(concept, ids, 16, ControlKey.Token, 7);
        for (long r = 0; r < ids.Length; r++)
            for (long s = r + 1; s < Math.Min(ids.Length, r + 40); s++)
                if (ids[r] == ids[s]) Assert.Equal(byToken.Labels[r], byToken.Labels[s]);
        var byPair = ControlTask.Create(concept, ids, 16, ControlKey.TokenPosition, 7);
        var table = new Dictionary<(long, long), long>();
        for (long r = 0; r < ids.Length; r++)
            Assert.Equal(table.GetValueOrDefault((ids[r], r % 16), byPair.Labels[r]), table[(ids[r], r % 16)] = byPair.Labels[r]);
        // 96 (token, position) types each draw a label with the concept's frequencies (here about 1/2 each).
        double share = table.Values.Average(v => (double)v);
        Assert.InRange(share, 0.3, 0.7);
        Assert.Equal(concept.Classes, byPair.Classes);
    }

    [Fact]
    public void Probes_find_a_context_concept_only_after_the_layer_that_computes_it()
    {
        using var scope = NewDisposeScope();
        using var model = new ParityModel();
        var (tokens, labels) = ParityModel.Data(200, 16, 4);
        var scores = LinearProbe.Run(model, tokens, labels, ["blocks.0.hook_resid_pre", "blocks.0.hook_resid_post"], ["parity", "low"], Probe, 0);
        ProbeScore S(string site, string concept) => scores.Single(s => s.Site == site && s.Concept == concept);
        // Parity is added at resid_post and independent of the token: chance before, perfect after.
        Assert.InRange(S("blocks.0.hook_resid_pre", "parity").Accuracy, 0.4, 0.62);
        Assert.True(S("blocks.0.hook_resid_pre", "parity").Selectivity < 0.1, S("blocks.0.hook_resid_pre", "parity").ToString());
        Assert.True(S("blocks.0.hook_resid_post", "parity").Accuracy > 0.99, S("blocks.0.hook_resid_post", "parity").ToString());
        Assert.True(S("blocks.0.hook_resid_post", "parity").Selectivity > 0.3, S("blocks.0.hook_resid_post", "parity").ToString());
        // A function of the token is read from both sites; a linear probe cannot memorise random (token, position) labels.
        Assert.True(S("blocks.0.hook_resid_pre", "low").Accuracy > 0.9, S("blocks.0.hook_resid_pre", "low").ToString());
        Assert.True(S("blocks.0.hook_resid_pre", "low").ControlAccuracy < 0.75, S("blocks.0.hook_resid_pre", "low").ToString());
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Tcav_is_significant_for_the_true_concept_and_not_for_its_labels_shuffled()
    {
        using var scope = NewDisposeScope();
        using var model = new ParityModel();
        var (tokens, labels) = ParityModel.Data(200, 16, 5);
        var rows = SiteActivations.Harvest(model, tokens, ["blocks.0.hook_resid_post"])["blocks.0.hook_resid_post"];
        var behaviour = new Behaviour(tokens.narrow(0, 0, 100), o => o[.., -1, ParityModel.Promoted], "logit of token 3 at the last position");
        var settings = new TcavSettings { RandomCavs = 12, Examples = 100 };
        var truth = Tcav.Run(model, "blocks.0.hook_resid_post", rows, labels["parity"], 1, behaviour, settings, 0);
        Assert.True(truth.Significant, $"p = {truth.Test.P}: {string.Join(", ", truth.ConceptScores)} vs {string.Join(", ", truth.RandomScores)}");
        Assert.True(truth.Score > 0.9, $"odd parity raises the logit of token 3 on every input: score {truth.Score}");
        // A concept set against a random set (half of which has the concept) separates at best 3 rows in 4.
        Assert.InRange(truth.CavAccuracy, 0.7, 0.8);
        var shuffled = Tcav.Run(model, "blocks.0.hook_resid_post", rows, labels["parity_shuffled"], 1, behaviour, settings, 0);
        Assert.False(shuffled.Significant, $"p = {shuffled.Test.P}, scores {string.Join(", ", shuffled.ConceptScores)}");
        Assert.Equal(12, shuffled.RandomScores.Length);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Tcav_refuses_fewer_than_ten_random_concepts_and_a_concept_of_one_class()
    {
        using var model = new ParityModel();
        var (tokens, labels) = ParityModel.Data(20, 8, 6);
        var rows = SiteActivations.Harvest(model, tokens, ["blocks.0.hook_resid_post"])["blocks.0.hook_resid_post"];
        var behaviour = new Behaviour(tokens, o => o[.., -1, 3], "logit 3");
        var few = Assert.Throws<MechanistInputException>(() =>
            Tcav.Run(model, "blocks.0.hook_resid_post", rows, labels["parity"], 1, behaviour, new TcavSettings { RandomCavs = 9 }, 0));
        Assert.Contains("at least 10 random concepts", few.Message);
        var single = new Concept("flat", new long[rows.shape[0]], ["only", "never"]);
        var one = Assert.Throws<MechanistInputException>(() =>
            Tcav.Run(model, "blocks.0.hook_resid_post", rows, single, 0, behaviour, new TcavSettings(), 0));
        Assert.Contains("only one class", one.Message);
        var site = Assert.Throws<MechanistInputException>(() =>
            Tcav.Run(model, "blocks.0.hook_resid_pots", rows, labels["parity"], 1, behaviour, new TcavSettings(), 0));
        Assert.Contains("Did you mean 'blocks.0.hook_resid_post'", site.Message);
    }

    [Fact]
    public void Sparse_probing_finds_the_planted_latent_and_matches_the_raw_probe_with_it()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(8);
        var y = randint(0, 2, [2000], generator: g);
        var latents = (rand(2000, 24, generator: g) - 0.8).relu();
        latents[.., 7] = y.to(ScalarType.Float32) * 2 + rand(2000, generator: g) * 0.3;
        var raw = latents.matmul(randn(24, 10, generator: g));
        var concept = new Concept("planted", y.data<long>().ToArray(), ["no", "yes"]);
        var split = RowSplit.BySequence(200, 10, 0.25, 0);
        var r = SparseProbing.Run(latents, raw, concept, 1, split, [1, 3], 1e-3, 4000, 0);
        Assert.Equal(7, r.BestLatent);
        Assert.True(r.BestCorrelation > 0.9, r.BestCorrelation.ToString());
        Assert.Equal([7], r.Sparse[0].Latents);
        Assert.True(r.Sparse[0].Accuracy > 0.99);
        Assert.True(r.RawAccuracy > 0.95);
        // The independent check of the correlation: Pearson r computed by hand.
        var z = latents[.., 7].to(ScalarType.Float64);
        var yy = y.to(ScalarType.Float64);
        double pearson = ((z - z.mean()) * (yy - yy.mean())).sum().item<double>() / Math.Sqrt((z - z.mean()).pow(2).sum().item<double>() * (yy - yy.mean()).pow(2).sum().item<double>());
        Assert.Equal(pearson, r.BestCorrelation, 9);
    }

    [Fact]
    public void Concept_attribution_finds_the_head_that_carries_the_concept_and_its_estimate_is_exact_on_a_linear_model()
    {
        using var scope = NewDisposeScope();
        using var model = new HeadModel();
        var (tokens, labels) = ParityModel.Data(120, 12, 9);
        var result = ConceptAttribution.Run(model, tokens, labels["parity"], 1, "blocks.0.attn.hook_z", "blocks.0.hook_resid_post", null,
            new ConceptAttribution.Settings(), 0);
        Assert.Equal("heads", result.Units);
        Assert.Equal(3, result.Scores.Count);
        Assert.True(result.ProbeAccuracy > 0.99);
        var head1 = result.Scores.Single(s => s.Index == 1);
        Assert.True(head1.Fraction > 0.3, $"head 1 carries parity: {head1}");
        foreach (var s in result.Scores)
        {
            // Mean ablation of a head moves the probe's log-odds linearly: the first-order estimate is the effect.
            Assert.Equal(s.Effect, s.Estimate, 3);
            if (s.Index != 1) Assert.True(Math.Abs(s.Fraction) < head1.Fraction / 3, $"{s.Unit} carries less: {s}");
        }
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Labels_that_do_not_match_the_activations_are_an_input_error_naming_both_sizes()
    {
        using var model = new ParityModel();
        var (tokens, labels) = ParityModel.Data(10, 8, 1);
        var e = Assert.Throws<MechanistInputException>(() =>
            LinearProbe.Run(model, tokens.narrow(0, 0, 9), labels, ["blocks.0.hook_resid_post"], ["parity"], Probe, 0));
        Assert.Contains("80 labels", e.Message);
        Assert.Contains("72 rows", e.Message);
        var unknown = Assert.Throws<MechanistInputException>(() => labels["pairty"]);
        Assert.Contains("Did you mean 'parity'", unknown.Message);
        var site = Assert.Throws<MechanistInputException>(() =>
            LinearProbe.Run(model, tokens, labels, ["blocks.1.hook_resid_post"], ["parity"], Probe, 0));
        Assert.Contains("no hook site 'blocks.1.hook_resid_post'", site.Message);
    }
}
