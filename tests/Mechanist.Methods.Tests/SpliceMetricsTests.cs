using Mechanist.Decomposers;
using Mechanist.Methods.Evaluation;
using Mechanist.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

public class SpliceMetricsTests
{
    /// <summary>A two-layer toy language model: embed → hook_embed → ReLU MLP → mlp_out → residual → unembed.</summary>
    sealed class TinyLm : HookedModel
    {
        readonly nn.Module<Tensor, Tensor> _embed, _up, _down, _unembed;
        readonly HookPoint _hookEmbed, _mlpIn, _mlpOut, _resid;

        public TinyLm(int vocab = 13, int d = 8, int seed = 4) : base("tiny_lm")
        {
            random.manual_seed(seed);
            _embed = nn.Embedding(vocab, d);
            _up = nn.Linear(d, 16);
            _down = nn.Linear(16, d);
            _unembed = nn.Linear(d, vocab);
            _hookEmbed = Site("hook_embed");
            _mlpIn = Site("blocks.0.ln2.hook_normalized");
            _mlpOut = Site("blocks.0.hook_mlp_out");
            _resid = Site("blocks.0.hook_resid_post");
            RegisterComponents();
        }

        public override string ModelType => "tiny_lm";

        public override Tensor forward(Tensor tokens)
        {
            var x = _hookEmbed.call(_embed.call(tokens));
            var mlpIn = _mlpIn.call(x);
            var mlp = _mlpOut.call(_down.call(nn.functional.relu(_up.call(mlpIn))));
            var resid = _resid.call(x + mlp);
            return _unembed.call(resid) * 3;
        }
    }

    static IEnumerable<Tensor> Tokens() =>
        Enumerable.Range(0, 3).Select(i => randint(0, 13, [4, 9], generator: new Generator((ulong)(100 + i))));

    [Fact]
    public void An_exact_reconstruction_scores_one_and_zeros_score_zero()
    {
        using var model = new TinyLm();
        // All directions of the 8-dimensional site as +/- pairs: the reconstruction equals the input.
        using var exact = StandardSae.FromSignedLinear(eye(8), eye(8), zeros(8));
        var perfect = SpliceMetrics.Compute(model, "blocks.0.hook_resid_post", exact, Tokens());
        Assert.Equal(1.0, perfect.CeLossScore, 6);
        Assert.Equal(1.0, perfect.KlScore, 6);
        Assert.Equal(perfect.CeClean, perfect.CeSpliced, 6);
        Assert.True(Math.Abs(perfect.CeZeroAblation - perfect.CeClean) > 0.1, $"zero ablation must change the loss: {perfect}");
        Assert.Equal(3 * 4 * 8, perfect.Tokens);

        using var nothing = new StandardSae(randn(8, 5), randn(5), zeros(5, 8), zeros(8));
        var useless = SpliceMetrics.Compute(model, "blocks.0.hook_resid_post", nothing, Tokens());
        Assert.Equal(0.0, useless.CeLossScore, 9);
        Assert.Equal(0.0, useless.KlScore, 9);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Partial_reconstructions_land_between_and_match_an_independent_computation()
    {
        using var model = new TinyLm();
        // Keep 4 of 8 directions: the spliced loss must sit between clean and zero-ablated.
        var (q, _) = linalg.qr(randn(8, 8, generator: new Generator(3)));
        var half = q.narrow(1, 0, 4).t();
        using var partial = StandardSae.FromSignedLinear(half, half, zeros(8));
        var m = SpliceMetrics.Compute(model, "blocks.0.hook_resid_post", partial, Tokens());
        Assert.InRange(m.CeLossScore, -1, 0.9999);
        Assert.True(m.KlSpliced > 0);

        // Independent route for ce_spliced: patch by hand and average -log p of the next token.
        double total = 0;
        long count = 0;
        foreach (var tokens in Tokens())
        {
            var logits = model.RunPatched(tokens, "blocks.0.hook_resid_post", x => partial.Reconstruct(x.reshape(-1, 8)).reshape(x.shape));
            var logProbs = nn.functional.log_softmax(logits.to(ScalarType.Float64), -1);
            for (int b = 0; b < 4; b++)
                for (int t = 0; t < 8; t++)
                {
                    total -= logProbs[b, t, tokens[b, t + 1].item<long>()].item<double>();
                    count++;
                }
        }
        Assert.Equal(total / count, m.CeSpliced, 9);
    }

    [Fact]
    public void A_transcoder_splices_from_its_input_site_into_its_output_site()
    {
        using var model = new TinyLm();
        // A transcoder that reproduces the MLP exactly would need the MLP; instead check that the output site is
        // the one replaced: a zero transcoder equals zero-ablating the MLP output.
        using var zero = new Transcoder(randn(8, 6), randn(6), zeros(6, 8), zeros(8));
        var m = SpliceMetrics.Compute(model, "blocks.0.ln2.hook_normalized", zero, Tokens(), outputSite: "blocks.0.hook_mlp_out");
        Assert.Equal(0.0, m.CeLossScore, 9);
        Assert.Equal(m.CeZeroAblation, m.CeSpliced, 12);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void An_unknown_site_names_the_closest()
    {
        using var model = new TinyLm();
        using var exact = StandardSae.FromSignedLinear(eye(8), eye(8), zeros(8));
        var e = Assert.Throws<MechanistInputException>(() => SpliceMetrics.Compute(model, "blocks.0.hook_resid_pst", exact, Tokens()));
        Assert.Contains("blocks.0.hook_resid_post", e.Message);
    }
}
