using Mechanist.Decomposers;
using Mechanist.Methods.Validators;
using Mechanist.Validators;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Validators;

public class ExplanationConsistencyTests
{
    const int Sequences = 300, Length = 8, Vocab = 40;

    /// <summary>
    /// Feature 0 fires on token 5 (a true token feature). Feature 1 fires at position 3 whatever the token: its top
    /// examples show a handful of arbitrary tokens, an explanation that fails on held-out data.
    /// </summary>
    static (Tensor Tokens, ActivationMatrix Activations) Data()
    {
        var g = new Generator(12);
        var tokens = randint(0, Vocab, [Sequences, Length], generator: g);
        var position = arange(Length).unsqueeze(0).expand(Sequences, Length);
        var tokenFeature = tokens.eq(5).to(ScalarType.Float32) * (1 + 0.1f * rand(Sequences, Length, generator: g));
        var positionFeature = position.eq(3).to(ScalarType.Float32) * (1 + 0.5f * rand(Sequences, Length, generator: g));
        var x = stack([tokenFeature, positionFeature], -1).reshape(-1, 2);
        return (tokens, new ActivationMatrix("synthetic", x));
    }

    static List<Finding> Validate(Decomposition sae, IActivationSource acts, Tensor? tokens)
    {
        var findings = new List<Finding>();
        new ExplanationConsistency().Validate(new ValidationContext(findings.Add)
        {
            Options = new ExplanationConsistencyOptions(), Decomposition = sae, Activations = acts, Tokens = tokens, Seed = 4,
        });
        return findings;
    }

    [Fact]
    public void A_token_feature_holds_and_a_position_feature_read_as_tokens_is_flagged()
    {
        using var scope = NewDisposeScope();
        var (tokens, acts) = Data();
        using var _ = acts;
        using var sae = StandardSae.FromSignedLinear(eye(2), eye(2), zeros(2));
        var scores = ExplanationConsistency.Evaluate(sae, acts, tokens, new ExplanationConsistencyOptions(), seed: 4);
        Assert.Equal([0, 1], scores.Select(s => s.Feature));
        Assert.True(scores[0].HeldOut > 0.9, $"token feature holds out of sample ({scores[0].HeldOut})");
        Assert.True(scores[1].InSample > scores[1].HeldOut, "the illusion fits its own examples better");
        Assert.True(scores[1].HeldOut < 0.3, $"position feature's token story fails ({scores[1].HeldOut})");

        var finding = Assert.Single(Validate(sae, acts, tokens));
        Assert.Equal("MECH4001", finding.Id);
        Assert.Equal(1, finding.Location.Feature);
    }

    [Fact]
    public void Direction_explanations_of_a_true_dictionary_hold_without_tokens()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(3);
        var (q, _) = linalg.qr(randn(8, 8, generator: g));
        var codes = nn.functional.relu(randn(3000, 8, generator: g) - 1);
        using var acts = new ActivationMatrix("codes", codes.matmul(q.t()));
        // The true dictionary as ± latent pairs, with a small negative bias so rounding noise never fires a latent.
        var directions = cat([q.t(), -q.t()], 0);
        using var sae = new StandardSae(directions.t(), full(16, -1e-4f), directions, zeros(8));
        var scores = ExplanationConsistency.Evaluate(sae, acts, null, new ExplanationConsistencyOptions(), seed: 1);
        Assert.Equal(8, scores.Count);
        Assert.All(scores, s => Assert.True(s.HeldOut > 0.5 && s.Kind == "direction", $"{s.Feature}: {s.HeldOut}"));
        Assert.Empty(Validate(sae, acts, null));
    }

    [Fact]
    public void Tokens_that_do_not_cover_the_rows_are_an_input_error()
    {
        using var scope = NewDisposeScope();
        var (tokens, acts) = Data();
        using var _ = acts;
        using var sae = StandardSae.FromSignedLinear(eye(2), eye(2), zeros(2));
        var e = Assert.Throws<MechanistInputException>(() => Validate(sae, acts, tokens.narrow(0, 0, 10)));
        Assert.Contains("do not cover", e.Message);
    }
}
