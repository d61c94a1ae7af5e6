using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Methods.Validators;
using Mechanist.Models;
using Mechanist.Testing;
using Mechanist.Validators;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

/// <summary>
/// Mechanist.Testing's verifiers fail, with a message that says what to fix, on methods that are broken on purpose, and the
/// validator verifier compares a real validator's findings with a ground truth.
/// </summary>
public class VerifierTests
{
    [Fact]
    public void A_decomposer_that_keeps_state_between_fits_fails_the_determinism_check_and_only_it()
    {
        var e = Assert.Throws<VerificationException>(() => DecomposerVerifier<StatefulDecomposer>.Verify());
        Assert.Contains("decomposer 'test.stateful'", e.Message);
        Assert.Contains("failed 1 of", e.Message);
        Assert.Contains("two fits with seed 1 agree bit for bit: W_enc differs", e.Message);
    }

    [Fact]
    public void A_validator_that_leaves_a_hook_and_reports_an_undeclared_check_fails_with_both()
    {
        var e = Assert.Throws<VerificationException>(() => ValidatorVerifier<HookLeavingValidator>.Verify());
        Assert.Contains("validator 'test.leaves-hook'", e.Message);
        Assert.Contains("left 1 hook(s) registered on the model", e.Message);
        Assert.Contains("MECH0001", e.Message);
    }

    /// <summary>
    /// Ground truth: the identity dictionary x → (ReLU(x), ReLU(−x)) of the tiny model's ReLU MLP reconstructs it exactly
    /// (no MECH1001), and its 32 negative latents never fire on non-negative activations, so half the latents are dead:
    /// MECH1003 at that decomposition, 50% in its message.
    /// </summary>
    [Fact]
    public void The_findings_verifier_accepts_exactly_the_findings_a_validator_reports()
    {
        using var temp = new TempDir();
        using (var identity = StandardSae.FromSignedLinear(eye(TinyModel.MlpWidth), eye(TinyModel.MlpWidth), zeros(TinyModel.MlpWidth)))
            DecompositionFolder.Save(temp.File("identity"), identity);
        var config = $$"""
            {
              "model": "{MODEL}",
              "dataset": { "task": "modular-addition", "options": { "samples": 64 } },
              "decompositions": { "identity": { "site": "{{TinyModel.MlpSite}}", "path": "identity" } },
              "checks": { "MECH1004": "none" }
            }
            """;
        ValidatorVerifier<DecompositionQuality>.VerifyFindings(config, temp.Path,
            ExpectedFinding.Check("MECH1003").At(decomposition: "identity", site: TinyModel.MlpSite).WithMessage("50% of latents never fire"));

        var missing = Assert.Throws<VerificationException>(() => ValidatorVerifier<DecompositionQuality>.VerifyFindings(config, temp.Path,
            ExpectedFinding.Check("MECH1003").At(decomposition: "identity"), ExpectedFinding.Check("MECH1001").At(decomposition: "identity")));
        Assert.Contains("expected, not reported: MECH1001 at [decomposition 'identity']", missing.Message);
        var unexpected = Assert.Throws<VerificationException>(() => ValidatorVerifier<DecompositionQuality>.VerifyFindings(config, temp.Path));
        Assert.Contains("reported, not expected: MECH1003 (warning) at [decomposition 'identity', site blocks.0.mlp.hook_post]", unexpected.Message);
    }
}

/// <summary>Broken on purpose: each fit starts where the last one stopped (state kept in a static field).</summary>
[Decomposer("test.stateful", Title = "Stateful", Summary = "Test fixture: weights scaled by how many fits ran before.",
    Reference = "none", HelpLink = "docs/methods/pca.md")]
public sealed class StatefulDecomposer : Decomposer
{
    static int _fits;

    public override Decomposition Fit(DecomposeContext context)
    {
        int d = (int)context.Activations.Dimension;
        float scale = Interlocked.Increment(ref _fits);
        return StandardSae.FromSignedLinear(eye(d) * scale, eye(d), zeros(d));
    }
}

/// <summary>Broken on purpose: adds a hook to the model and never removes it.</summary>
[Validator("test.leaves-hook", Title = "Leaves a hook", Summary = "Test fixture: a hook left on the model.",
    Reference = "none", HelpLink = "docs/methods/decomposition.quality.md", Requires = ValidationInputs.Model)]
public sealed class HookLeavingValidator : Validator
{
    static readonly CheckDescriptor Check = new("TEST1001", "Test check", "never reported", "Test", Severity.Warning, "docs/checks/MECH1001.md", "nothing");

    public override System.Collections.Immutable.ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [Check];

    public override void Validate(ValidationContext context)
    {
        if (context.Model is IHookedModel model) model.AddHook(TinyModel.MlpSite, _ => null);
    }
}
