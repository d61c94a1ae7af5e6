using Mechanist.Attribution;
using Mechanist.Decomposers;
using Mechanist.Interpreters;
using Mechanist.Models;
using Mechanist.Validators;

namespace Mechanist.Testing;

/// <summary>
/// Verifies a decomposer, as Mechanist verifies its own: the common checks (<see cref="Conformance"/>), a fit on a tiny
/// input with finite weights, the same weights bit for bit from a second fit with the same seed, and a SAELens-layout
/// folder (cfg.json and sae_weights.safetensors, nothing else) that loads back to the same tensors and latents.
/// <code>[Fact] public void Conforms() => DecomposerVerifier&lt;SphericalKMeans&gt;.Verify();</code>
/// </summary>
public static class DecomposerVerifier<TDecomposer> where TDecomposer : Decomposer
{
    /// <summary>Throws <see cref="VerificationException"/> listing every check that failed.</summary>
    public static void Verify(ConformanceOptions? options = null) => Conformance.Verify<TDecomposer>(options);
}

/// <summary>
/// Verifies a validator: the common checks; complete checks with valid IDs (its own prefix, a page and a metric
/// definition each); MECH0013 when it requires inputs and gets none; in a check of <see cref="TinyModel"/> with every
/// input it requires, no throw, no hook left, only declared checks, and the same findings and values twice. And
/// <c>VerifyFindings</c>: on this model, decomposition and behaviour, exactly these findings.
/// </summary>
public static class ValidatorVerifier<TValidator> where TValidator : Validator
{
    /// <summary>Throws <see cref="VerificationException"/> listing every check that failed.</summary>
    public static void Verify(ConformanceOptions? options = null) => Conformance.Verify<TValidator>(options);

    /// <summary>
    /// Runs <paramref name="config"/> — a <c>mechanist.json</c>: the model (<c>{MODEL}</c> stands for
    /// <see cref="TinyModel.ModularAddition"/>), decompositions, behaviours, checks; without <c>validations</c>, the
    /// validator runs on every decomposition — through the host's check driver, and compares the validator's findings
    /// with <paramref name="expected"/>: each expected finding must be reported, and nothing else. Relative paths are
    /// relative to the test's output folder (the other overload takes another).
    /// <code>
    /// ValidatorVerifier&lt;DuplicateFeatures&gt;.VerifyFindings(
    ///     """{ "model": "{MODEL}", "dataset": { "task": "modular-addition" }, "decompositions": { "sae": { "site": "blocks.0.mlp.hook_post", "path": "sae" } } }""",
    ///     ExpectedFinding.Check("ACME1001").At(decomposition: "sae", feature: 5));
    /// </code>
    /// </summary>
    public static void VerifyFindings(string config, params ExpectedFinding[] expected) => VerifyFindings(config, null, expected);

    public static void VerifyFindings(string config, string? baseDirectory, params ExpectedFinding[] expected)
    {
        using var host = MethodHost.For<TValidator>();
        FindingsVerifier.Verify(host, Conformance.IdOf<TValidator>(), config, baseDirectory ?? AppContext.BaseDirectory, expected);
    }
}

/// <summary>
/// Verifies an interpreter: the common checks; explanations of three features of a PCA decomposition of
/// <see cref="TinyModel"/>'s MLP with the model, activations and tokens; the same explanations twice; no hook left when
/// the model's forward pass throws.
/// </summary>
public static class InterpreterVerifier<TInterpreter> where TInterpreter : Interpreter
{
    public static void Verify(ConformanceOptions? options = null) => Conformance.Verify<TInterpreter>(options);
}

/// <summary>
/// Verifies an attribution method: the common checks; in a check of <see cref="TinyModel"/>, a result for the behaviour
/// (the logit of the right answer, corrupted inputs as the reference) with a score definition, no throw, no hook left,
/// and the same result twice.
/// </summary>
public static class AttributionVerifier<TMethod> where TMethod : AttributionMethod
{
    public static void Verify(ConformanceOptions? options = null) => Conformance.Verify<TMethod>(options);
}

/// <summary>
/// Verifies a model loader on a model folder of its type (<see cref="ConformanceOptions.ModelFolder"/>): the common
/// checks; the folder loads and the model reports its type; it names its hook sites; a forward pass fires a hook at every
/// site and none stays registered; two loads give the same output.
/// </summary>
public static class ModelLoaderVerifier<TLoader> where TLoader : ModelLoader
{
    public static void Verify(ConformanceOptions options) => Conformance.Verify<TLoader>(options);
}
