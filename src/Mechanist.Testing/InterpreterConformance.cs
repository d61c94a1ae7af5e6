using System.Text.Json.Nodes;
using Mechanist.Decomposers;
using Mechanist.Host.Discovery;
using Mechanist.Host.Models;
using Mechanist.Host.Running;
using Mechanist.Interpreters;
using Mechanist.Models;
using static TorchSharp.torch;

namespace Mechanist.Testing;

/// <summary>
/// An interpreter: explains three features of a PCA decomposition of <see cref="TinyModel"/>'s MLP activations, with the
/// model, the activations and their token ids, the unembedding and embedding (as <c>mechanist interpret</c> gives them);
/// the host's post-conditions hold (each feature once, hooks removed); two runs with one seed agree; and when the model's
/// forward pass throws, no hook is left registered.
/// </summary>
internal static class InterpreterConformance
{
    public static void Verify(MethodHost host, MethodEntry entry, ConformanceOptions options, Failures f)
    {
        var runner = MethodRunner.For(host.Host);
        BoundMethod? bound = null;
        f.Check("its options bind", () => bound = MethodRunner.Bind(entry, options.Options));
        if (bound is null) return;
        var folder = TinyModel.ModularAddition;
        using var model = (ILanguageModel)ModelFolder.Load(folder, host.Host.Catalog, host.Host.Services, CPU, 0);
        using var scope = NewDisposeScope();
        // Every pair "a b =": 169 sequences of 3 tokens, and the MLP activation at each token.
        var i = arange(TinyModel.P * TinyModel.P, ScalarType.Int64);
        var tokens = stack([i.div(TinyModel.P, RoundingMode.floor), i.remainder(TinyModel.P), full_like(i, TinyModel.P)], 1);
        Tensor? captured = null;
        using (model.AddHook(TinyModel.MlpSite, a => { captured = a.detach().clone(); return null; }))
        using (no_grad())
            model.Run(tokens).Dispose();
        using var activations = new ActivationMatrix("tiny-mlp", captured!.reshape(-1, TinyModel.MlpWidth));
        var pca = MethodRunner.Bind(host.Host.Catalog.Resolve("pca", MethodKind.Decomposer), new Dictionary<string, string> { ["components"] = "4" });
        using var decomposition = runner.Fit(pca, new DecomposeContext { Activations = activations, Options = pca.Options, Seed = 0, HookName = TinyModel.MlpSite });
        InterpretContext Context(IHookedModel m) => new()
        {
            Decomposition = decomposition, Activations = activations, Model = m, Features = [0, 1, 2], Site = TinyModel.MlpSite,
            Tokens = tokens, TokenText = (model as ITokenizedModel)?.TokenText, Unembedding = (model as IEmbeddingModel)?.Unembedding(TinyModel.MlpSite),
            Embedding = (model as IEmbeddingModel)?.TokenEmbedding(), InputTemplate = tokens.narrow(0, 0, 1), Options = bound.Options, Seed = options.Seed,
        };

        string? first = null;
        f.Check("it explains features of a tiny decomposition with the model and its activations", () =>
        {
            var explanations = runner.Interpret(bound, Context(model));
            Failures.That(explanations.Count > 0, "it explained no feature of 0, 1, 2");
            first = Json(explanations);
        });
        if (first is null) return;
        f.Check($"two runs with seed {options.Seed} agree", () =>
        {
            var second = Json(runner.Interpret(bound, Context(model)));
            Failures.That(second == first, $"the explanations differ:{Environment.NewLine}    {first}{Environment.NewLine}    {second}");
        });
        f.Check("no hook is left registered when the model's forward pass throws", () =>
        {
            try { runner.Interpret(bound, Context(new FailingModel(model))); }
            catch (MethodFailedException) { }
            catch (MechanistInputException) { }
            Failures.That(model.ActiveHookCount == 0, $"{model.ActiveHookCount} hook(s) left on the model");
        });
    }

    static string Json(IReadOnlyList<FeatureExplanation> explanations) =>
        new JsonArray(explanations.Select(e => (JsonNode?)new JsonObject { ["feature"] = e.Feature, ["summary"] = e.Summary, ["details"] = e.Details.DeepClone() }).ToArray()).ToJsonString();
}
