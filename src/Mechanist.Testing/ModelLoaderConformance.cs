using Mechanist.Host.Discovery;
using Mechanist.Host.Models;
using Mechanist.Host.Running;
using Mechanist.Models;
using static TorchSharp.torch;

namespace Mechanist.Testing;

/// <summary>
/// A model loader: loads its model folder through the host (config.json's model_type; the model must report it), names
/// its hook sites, fires a hook at every one of them in a forward pass and removes them all, and gives the same output
/// from two loads.
/// </summary>
internal static class ModelLoaderConformance
{
    public static void Verify(MethodHost host, MethodEntry entry, ConformanceOptions options, Failures f)
    {
        if (options.ModelFolder is null)
        {
            f.Check("it loads a model folder", () => Failures.Fail("give the verifier a model folder of this type (ConformanceOptions.ModelFolder)"));
            return;
        }
        var (config, type) = ModelFolder.ReadConfig(options.ModelFolder);
        var runner = MethodRunner.For(host.Host);
        IHookedModel? model = null;
        try
        {
            f.Check($"it loads {options.ModelFolder}", () =>
            {
                Failures.That(type == entry.Id, $"the folder's model_type is '{type}', not '{entry.Id}'");
                model = runner.LoadModel(options.ModelFolder, config, type, CPU, options.Seed);
            });
            if (model is null) return;
            f.Check("it names its hook sites, once each", () =>
            {
                Failures.That(model.HookSites.Count > 0, "the model has no hook sites");
                var twice = model.HookSites.GroupBy(s => s).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
                Failures.That(twice.Count == 0, $"sites named twice: {string.Join(", ", twice)}");
            });
            Tensor? input = null;
            f.Check("a forward pass fires a hook at every site, and removing them leaves none", () =>
            {
                input = options.ModelInput?.Invoke(model) ?? DefaultInput(model);
                var fired = new HashSet<string>();
                var hooks = model.HookSites.Select(s => model.AddHook(s, _ => { fired.Add(s); return null; })).ToList();
                using (no_grad()) model.Run(input).Dispose();
                foreach (var h in hooks) h.Dispose();
                var silent = model.HookSites.Where(s => !fired.Contains(s)).ToList();
                Failures.That(silent.Count == 0, $"no hook fired at {string.Join(", ", silent)} (invoke submodules with call(), not forward())");
                Failures.That(model.ActiveHookCount == 0, $"{model.ActiveHookCount} hook(s) still registered after disposing them");
            });
            if (input is null) return;
            f.Check("two loads give the same output", () =>
            {
                using var other = runner.LoadModel(options.ModelFolder, config, type, CPU, options.Seed);
                using var _ = no_grad();
                using var a = model.Run(input);
                using var b = other.Run(input);
                Failures.That(Tensors.Identical(a, b), $"the outputs differ (max |Δ| {Tensors.MaxDifference(a, b):G4})");
            });
        }
        finally
        {
            model?.Dispose();
        }
    }

    static Tensor DefaultInput(IHookedModel model) => model is ILanguageModel lm
        ? randint(0, lm.VocabSize, [2, Math.Min(lm.ContextLength, 4)], ScalarType.Int64, generator: new Generator(3))
        : throw new InvalidOperationException($"model '{model.ModelType}' does not read token ids: give its input (ConformanceOptions.ModelInput)");
}
