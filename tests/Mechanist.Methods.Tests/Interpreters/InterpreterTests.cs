using System.Text.Json.Nodes;
using Mechanist.Decomposers;
using Mechanist.Interpreters;
using Mechanist.Methods.Interpreters;
using Mechanist.Methods.Tests.Attribution;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Interpreters;

public class TopExamplesTests
{
    const int Sequences = 40, Length = 10;

    /// <summary>Feature 0 fires on token 7 with activation 1 + position; feature 1 never fires.</summary>
    static (Tensor Tokens, ActivationMatrix Activations, StandardSae Sae) Data()
    {
        var tokens = randint(0, 12, [Sequences, Length], generator: new Generator(3));
        var position = arange(Length, dtype: ScalarType.Float32).unsqueeze(0).expand(Sequences, Length);
        var f0 = tokens.eq(7).to(ScalarType.Float32) * (1 + position);
        var x = stack([f0, zeros_like(f0)], -1).reshape(-1, 2);
        var sae = new StandardSae(eye(2), tensor(new[] { 0f, -1f }), eye(2), zeros(2));
        return (tokens, new ActivationMatrix("acts", x), sae);
    }

    static IReadOnlyList<FeatureExplanation> Run(Tensor tokens, IActivationSource acts, Decomposition sae, TopExamplesOptions options) =>
        new TopExamples().Interpret(new InterpretContext
        {
            Decomposition = sae, Activations = acts, Tokens = tokens, Options = options, Seed = 5, TokenText = t => $"t{t}",
        });

    [Fact]
    public void Top_examples_quantile_samples_and_context_windows_are_exact()
    {
        using var scope = NewDisposeScope();
        var (tokens, acts, sae) = Data();
        using var _ = acts;
        using var __ = sae;
        var options = new TopExamplesOptions { TopK = 5, Quantiles = 4, SamplesPerQuantile = 2, ContextBefore = 2, ContextAfter = 1, BatchSize = 37 };
        var result = Run(tokens, acts, sae, options);
        Assert.Equal(2, result.Count);
        var d = result[0].Details;
        var ids = tokens.reshape(-1).data<long>().ToArray();
        long active = ids.Count(t => t == 7);
        Assert.Equal(active, d["active_count"]!.GetValue<long>());
        Assert.Equal((double)active / ids.Length, d["frequency"]!.GetValue<double>(), 6);
        var top = d["top"]!.AsArray();
        Assert.Equal(5, top.Count);
        var values = top.Select(e => e!["activation"]!.GetValue<double>()).ToArray();
        Assert.Equal(values.OrderByDescending(v => v), values);
        Assert.Equal(acts.Data.select(1, 0).max().item<float>(), values[0], 4);
        foreach (var e in top.Select(e => e!))
        {
            long row = e["row"]!.GetValue<long>(), seq = row / Length, pos = row % Length;
            Assert.Equal(7, ids[row]);
            Assert.Equal(pos + 1, e["activation"]!.GetValue<double>(), 5);
            long start = Math.Max(0, pos - 2), end = Math.Min(Length, pos + 2);
            var window = e["tokens"]!.AsArray().Select(t => t!.GetValue<long>()).ToArray();
            Assert.Equal(ids.Skip((int)(seq * Length + start)).Take((int)(end - start)), window);
            Assert.Equal(pos - start, e["focus"]!.GetValue<long>());
            Assert.Equal(window.Select(t => $"t{t}"), e["text"]!.AsArray().Select(t => t!.GetValue<string>()));
            var windowActs = e["activations"]!.AsArray().Select(a => a!.GetValue<double>()).ToArray();
            for (long p = start; p < end; p++)
                Assert.Equal(ids[seq * Length + p] == 7 ? p + 1 : 0, windowActs[p - start], 5);
        }
        // The histogram: feature 0's activations (1 + position where the token is 7) in 32 equal bins on (0, max].
        double max = d["max_activation"]!.GetValue<double>();
        Assert.Equal([0.0, max], d["histogram"]!["range"]!.AsArray().Select(v => v!.GetValue<double>()));
        var expected = new long[TopExamples.ReportedBins];
        for (int r = 0; r < ids.Length; r++)
            if (ids[r] == 7) expected[Math.Min(TopExamples.ReportedBins - 1, (int)Math.Floor((r % Length + 1) / max * TopExamples.ReportedBins))]++;
        Assert.Equal(expected, d["histogram"]!["counts"]!.AsArray().Select(c => c!.GetValue<long>()));
        Assert.All(result[1].Details["histogram"]!["counts"]!.AsArray(), c => Assert.Equal(0, c!.GetValue<long>()));
        var quantiles = d["quantiles"]!.AsArray();
        Assert.Equal(4, quantiles.Count);
        Assert.Equal(active, quantiles.Sum(q => q!["count"]!.GetValue<long>()));
        double previous = 0;
        foreach (var q in quantiles.Select(q => q!))
        {
            var range = q["range"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
            Assert.True(range[0] >= previous - 1e-9 && range[1] >= range[0]);
            previous = range[0];
            foreach (var s in q["samples"]!.AsArray())
            {
                var v = s!["activation"]!.GetValue<double>();
                Assert.InRange(v, range[0] - 1e-5, range[1] + 1e-5);
            }
        }
        Assert.Contains("t7", result[0].Summary);
        Assert.Contains("never fires", result[1].Summary);
        Assert.Empty(result[1].Details["top"]!.AsArray());

        // One big batch and small batches give the same explanation (same seed).
        var again = Run(tokens, acts, sae, options with { BatchSize = 4096 });
        Assert.Equal(result[0].Details.ToJsonString(), again[0].Details.ToJsonString());
    }

    [Fact]
    public void Tokens_that_do_not_cover_the_rows_and_unknown_features_are_input_errors()
    {
        using var scope = NewDisposeScope();
        var (tokens, acts, sae) = Data();
        using var _ = acts;
        using var __ = sae;
        Assert.Contains("do not cover", Assert.Throws<MechanistInputException>(() => Run(tokens.narrow(0, 0, 3), acts, sae, new())).Message);
        var e = Assert.Throws<MechanistInputException>(() => new TopExamples().Interpret(new InterpretContext
        {
            Decomposition = sae, Activations = acts, Features = [2], Options = new TopExamplesOptions(),
        }));
        Assert.Contains("feature 2 is out of range", e.Message);
    }
}

public class OutputEffectsTests
{
    [Fact]
    public void Decoder_directions_read_through_the_unembedding_rank_tokens()
    {
        using var scope = NewDisposeScope();
        var decoder = tensor(new float[] { 1, 0, 0, 0, 1, -1 }).view(2, 3); // rows: features
        using var sae = new StandardSae(decoder.t(), zeros(2), decoder, zeros(3));
        var unembed = tensor(new float[]
        {
            3, 0, 1, -2, 0,
            0, 2, 0, 0, -1,
            0, 0, 4, 0, 0,
        }).view(3, 5);
        var result = new OutputEffects().Interpret(new InterpretContext
        {
            Decomposition = sae, Unembedding = unembed, TokenText = t => "abcde"[(int)t].ToString(), Options = new OutputEffectsOptions { TopN = 2 },
        });
        // Feature 0 = row 0 of W_U: promotes a (3), c (1); suppresses d (−2), b/e (0).
        Assert.Equal(["a", "c"], result[0].Details["promoted"]!.AsArray().Select(t => t!["text"]!.GetValue<string>()));
        Assert.Equal("d", result[0].Details["suppressed"]![0]!["text"]!.GetValue<string>());
        // Feature 1 = row 1 − row 2 = [0, 2, −4, 0, −1].
        Assert.Equal(2, result[1].Details["promoted"]![0]!["logit_effect"]!.GetValue<double>(), 6);
        Assert.Equal(-4, result[1].Details["suppressed"]![0]!["logit_effect"]!.GetValue<double>(), 6);
        Assert.StartsWith("promotes 'b'", result[1].Summary);

        var e = Assert.Throws<MechanistInputException>(() => new OutputEffects().Interpret(new InterpretContext
        {
            Decomposition = sae, Unembedding = unembed.narrow(0, 0, 2), Options = new OutputEffectsOptions(),
        }));
        Assert.Contains("d_in is 3", e.Message);
    }
}

public class FeatureSynthesisTests
{
    [Fact]
    public void Synthesis_finds_the_encoder_direction_of_an_initially_silent_feature()
    {
        using var scope = NewDisposeScope();
        using var model = new ReadoutModel(eye(6, dtype: ScalarType.Float64));
        var w = randn(6, 1, generator: new Generator(2));
        w /= w.norm();
        // One latent: ReLU(w·x − 0.5), off near the origin where synthesis starts.
        using var sae = new StandardSae(w, tensor(new[] { -0.5f }), w.t(), zeros(6));
        IReadOnlyList<FeatureExplanation> Run() => new FeatureSynthesis().Interpret(new InterpretContext
        {
            Decomposition = sae, Model = model, Site = "hook_mid", InputTemplate = zeros(1, 6, ScalarType.Float64), Seed = 3,
            Options = new FeatureSynthesisOptions { Steps = 400, L2 = 0.05 },
        });
        var result = Run();
        var d = result[0].Details;
        Assert.Equal(0, d["activation_initial"]!.GetValue<double>());
        Assert.True(d["activation_final"]!.GetValue<double>() > 1, result[0].Summary);
        var x = tensor(d["input"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray()).to(ScalarType.Float32);
        var cosine = (x.matmul(w.squeeze(1)) / x.norm()).item<float>();
        Assert.True(cosine > 0.95, $"cos(x*, w) = {cosine}");
        Assert.Equal(d.ToJsonString(), Run()[0].Details.ToJsonString());
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Soft_tokens_raise_a_feature_and_report_the_nearest_tokens()
    {
        using var scope = NewDisposeScope();
        using var model = new TinyTokenModel();
        // A tied dictionary (encoder = decoderᵀ), as trained SAEs roughly are, with latents off at the start.
        var decoder = nn.functional.normalize(randn(4, 8, generator: new Generator(5)), dim: 1);
        using var sae = new StandardSae(decoder.t(), full(4, -2f), decoder, zeros(8));
        var result = new FeatureSynthesis().Interpret(new InterpretContext
        {
            Decomposition = sae, Model = model, Site = "blocks.0.hook_resid_pre", InputTemplate = tensor(new long[] { 1, 2, 3, 4 }).view(1, 4),
            Embedding = model.Embedding, Features = [0, 1], Seed = 1,
            Options = new FeatureSynthesisOptions { Mode = SynthesisMode.SoftTokens, Steps = 60 },
        });
        Assert.Equal(2, result.Count);
        foreach (var r in result)
        {
            Assert.True(r.Details["activation_final"]!.GetValue<double>() > r.Details["activation_initial"]!.GetValue<double>() + 0.1, r.Summary);
            Assert.Equal(4, r.Details["nearest_tokens"]!.AsArray().Count);
            Assert.Equal([1L, 4L, 8L], r.Details["shape"]!.AsArray().Select(s => s!.GetValue<long>()));
        }
        Assert.Equal(0, model.ActiveHookCount);
    }
}
