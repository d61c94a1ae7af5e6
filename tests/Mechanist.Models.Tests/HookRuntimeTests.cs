using Mechanist.Decomposers;
using Mechanist.Models.Architectures;
using Mechanist.Models.Runtime;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Models.Tests;

/// <summary>Reading, replacing and splicing activations; and no hook is ever left behind.</summary>
public class HookRuntimeTests
{
    const string Resid = "blocks.0.hook_resid_pre";
    const string Mid = "blocks.1.hook_resid_mid";

    static Tensor Ids(int batch = 3, int pos = 6, int seed = 0) =>
        randint(40, [batch, pos], generator: new Generator((ulong)seed));

    static double MaxAbs(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    /// <summary>A reconstruction that is close to but not the identity: PCA-like projection onto the first k axes plus noise.</summary>
    static StandardSae Sae(int d = 16, int k = 10, int seed = 3)
    {
        var g = new Generator((ulong)seed);
        var (q, _) = linalg.qr(randn(d, d, generator: g));
        var components = q.narrow(1, 0, k).t();
        return StandardSae.FromSignedLinear(components, components, randn(d, generator: g) * 0.1f);
    }

    [Fact]
    public void Cache_reads_without_changing_the_output()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Fixture.Small();
        var ids = Ids();
        var clean = model.Run(ids);
        var (output, cache) = model.RunWithCache(ids, [Resid, Mid, Mid]);
        Assert.True(TensorAssert.Identical(clean, output));
        Assert.Equal([Resid, Mid], cache.Keys.Order());
        Assert.False(cache[Mid].requires_grad);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Zero_ablation_of_the_residual_stream_leaves_only_the_biases()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Fixture.Small();
        var a = model.RunZeroAblated(Ids(seed: 1), Resid);
        var b = model.RunZeroAblated(Ids(seed: 2), Resid);
        // With the whole residual stream zeroed at the first block, the output no longer depends on the tokens.
        Assert.InRange(MaxAbs(a, b), 0, 1e-5);
        Assert.True(MaxAbs(model.Run(Ids(seed: 1)), model.Run(Ids(seed: 2))) > 1e-3);
    }

    [Fact]
    public void Mean_ablation_replaces_the_activation_by_the_reference_mean()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Fixture.Small();
        var reference = new[] { Ids(seed: 4), Ids(seed: 5) };
        var perPosition = model.SiteMean(reference, Mid);
        var overall = model.SiteMean(reference, Mid, overPositions: true);
        var cached = reference.Select(r => model.RunWithCache(r, [Mid]).Cache[Mid]).ToList();
        var all = cat(cached, 0);
        Assert.Equal([6L, 16], perPosition.shape);
        Assert.InRange(MaxAbs(perPosition, all.mean([0])), 0, 1e-6);
        Assert.InRange(MaxAbs(overall, all.mean([0, 1])), 0, 1e-6);

        var seen = new Dictionary<string, Tensor>();
        var ids = Ids(seed: 7);
        var output = model.RunWithHooks(ids, (Mid, Hooks.Replace(perPosition, Mid)), (Mid, Hooks.Cache(seen, Mid)));
        Assert.InRange(MaxAbs(seen[Mid], perPosition.expand(3, 6, 16)), 0, 0);
        Assert.True(TensorAssert.Identical(output, model.RunMeanAblated(ids, Mid, perPosition)));
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Patching_the_whole_residual_stream_from_another_run_gives_that_run()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Fixture.Small();
        var clean = Ids(seed: 8);
        var corrupt = Ids(seed: 9);
        var patched = model.RunPatchedFrom(corrupt, Resid, clean);
        Assert.InRange(MaxAbs(patched, model.Run(clean)), 0, 1e-5);
        Assert.True(MaxAbs(model.Run(corrupt), model.Run(clean)) > 1e-3);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Resample_ablation_takes_each_row_from_the_chosen_donor()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Fixture.Small();
        var input = Ids(batch: 3, seed: 10);
        var donors = Ids(batch: 5, seed: 11);
        var indices = tensor(new long[] { 4, 0, 4 });
        var output = model.RunResampleAblated(input, Resid, donors, indices);
        var donorOutput = model.Run(donors);
        Assert.InRange(MaxAbs(output, donorOutput.index_select(0, indices)), 0, 1e-5);

        var drawn1 = model.RunResampleAblated(input, Resid, donors, new Generator(3));
        var drawn2 = model.RunResampleAblated(input, Resid, donors, new Generator(3));
        Assert.True(TensorAssert.Identical(drawn1, drawn2));
        for (int b = 0; b < 3; b++)
            Assert.Contains(Enumerable.Range(0, 5), j => MaxAbs(drawn1[b], donorOutput[j]) < 1e-5);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Splicing_with_the_error_term_reproduces_the_clean_output_exactly()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Fixture.Small();
        using var sae = Sae();
        var ids = Ids(seed: 12);
        var clean = model.Run(ids);
        var withError = model.RunSpliced(ids, Mid, sae, withErrorTerm: true);
        Assert.True(TensorAssert.Identical(clean, withError), "x_hat + (x - x_hat) must give the clean output bit for bit");

        var spliced = model.RunSpliced(ids, Mid, sae);
        Assert.True(MaxAbs(spliced, clean) > 1e-3, "a lossy reconstruction changes the output");
        var x = model.RunWithCache(ids, [Mid]).Cache[Mid];
        var manual = model.RunPatched(ids, Mid, _ => sae.Reconstruct(x.reshape(-1, 16)).reshape(3, 6, 16));
        Assert.True(TensorAssert.Identical(spliced, manual));
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Splicing_observes_latents_and_lets_gradients_reach_them_through_the_error_term()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Fixture.Small();
        using var sae = Sae();
        var ids = Ids(seed: 13);
        Tensor? latents = null;
        var output = model.RunWithHooks(ids,
            (Mid, x => x.requires_grad_(true)),
            (Mid, Hooks.Splice(sae, withErrorTerm: true, Mid, (f, _) => { f.retain_grad(); latents = f; })));
        Assert.NotNull(latents);
        Assert.Equal([18L, 20], latents!.shape);
        output.sum().backward();
        Assert.NotNull(latents.grad);
        Assert.True(latents.grad!.abs().sum().item<float>() > 0, "the output's gradient reaches the latents");
    }

    /// <summary>Every helper, each run so that it succeeds, so that a hook throws, and so that the model throws.</summary>
    public static TheoryData<string> Helpers() => new() { "cache", "hooks", "patched", "zero", "patched-from", "mean", "site-mean", "resample", "resample-random", "splice", "splice-error" };

    static void Call(string helper, Gpt2Model model, Tensor ids, bool hookThrows)
    {
        using var scope = NewDisposeScope();
        using var sae = hookThrows ? Sae(d: 12, k: 4) : Sae();
        var mean = hookThrows ? zeros(7, 16) : zeros(16);
        var donorIds = hookThrows ? Ids(batch: 3, pos: 5) : Ids(batch: 3, seed: 1);
        switch (helper)
        {
            case "cache": model.RunWithCache(ids, hookThrows ? [Mid, "blocks.9.nope"] : [Mid]); break;
            case "hooks": model.RunWithHooks(ids, (Resid, _ => hookThrows ? throw new InvalidOperationException("hook") : null), (Mid, Hooks.Zero())); break;
            case "patched": model.RunPatched(ids, Mid, x => hookThrows ? throw new InvalidOperationException("hook") : x * 2); break;
            case "zero": model.RunZeroAblated(ids, hookThrows ? "blocks.0.hook_resid_psot" : Mid); break;
            case "patched-from": model.RunPatchedFrom(ids, Mid, donorIds); break;
            case "mean": model.RunMeanAblated(ids, Mid, mean); break;
            case "site-mean": model.SiteMean([ids, donorIds], Mid); break;
            case "resample": model.RunResampleAblated(ids, Mid, donorIds, tensor(hookThrows ? new long[] { 0, 9, 1 } : [0, 1, 1])); break;
            case "resample-random": model.RunResampleAblated(ids, hookThrows ? "nope" : Mid, donorIds, new Generator(1)); break;
            case "splice": model.RunSpliced(ids, Mid, sae); break;
            case "splice-error": model.RunSpliced(ids, Mid, sae, withErrorTerm: true); break;
            default: throw new ArgumentException(helper);
        }
    }

    [Theory]
    [MemberData(nameof(Helpers))]
    public void No_hook_is_left_behind_on_success(string helper)
    {
        using var model = Gpt2Fixture.Small();
        using var ids = Ids();
        Call(helper, model, ids, hookThrows: false);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Theory]
    [MemberData(nameof(Helpers))]
    public void No_hook_is_left_behind_when_a_hook_throws(string helper)
    {
        using var model = Gpt2Fixture.Small();
        using var ids = Ids();
        Assert.ThrowsAny<Exception>(() => Call(helper, model, ids, hookThrows: true));
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Theory]
    [MemberData(nameof(Helpers))]
    public void No_hook_is_left_behind_when_the_model_throws(string helper)
    {
        using var model = Gpt2Fixture.Small();
        using var bad = full(3, 6, 40L, ScalarType.Int64); // id 40 is outside the vocabulary of 40
        var e = Assert.Throws<MechanistInputException>(() => Call(helper, model, bad, hookThrows: false));
        Assert.Contains("token id 40 is outside the vocabulary [0, 40)", e.Message);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Hook_errors_name_the_site_and_the_shapes()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Fixture.Small();
        var unknown = Assert.Throws<MechanistInputException>(() => model.RunZeroAblated(Ids(), "blocks.0.hook_resid_psot"));
        Assert.Contains("Did you mean 'blocks.0.hook_resid_post'?", unknown.Message);
        using var sae = Sae(d: 12, k: 4);
        var splice = Assert.Throws<MechanistInputException>(() => model.RunSpliced(Ids(), Mid, sae));
        Assert.Contains("d_in = 12", splice.Message);
        Assert.Contains(Mid, splice.Message);
        Assert.Contains("[3, 6, 16]", splice.Message);
        var mean = Assert.Throws<MechanistInputException>(() => model.RunMeanAblated(Ids(), Mid, zeros(7, 16)));
        Assert.Contains("[7, 16]", mean.Message);
        var shape = Assert.Throws<InvalidOperationException>(() => model.RunPatched(Ids(), Mid, x => x.sum(dim: 0)));
        Assert.Contains($"a hook at {Mid} returned shape [6, 16]", shape.Message);
        Assert.Equal(0, model.ActiveHookCount);
    }
}
