using Mechanist.Host;
using Mechanist.Host.Checks;
using Mechanist.Host.Discovery;
using Mechanist.Models;
using Mechanist.Models.Architectures;
using Mechanist.Testing;
using Mechanist.Validators;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

/// <summary>
/// One suite over every registered method, built-in and plugin (like the analyzer conformance suites), and the same code a
/// plugin author runs: Mechanist.Testing's <see cref="Conformance"/> — descriptor complete, options validate and refuse
/// unknown names with a suggestion, runs on a tiny input of its kind (validators and attribution methods in a real check of
/// a tiny model with every input they require), deterministic under a seed, no hook left, SAELens round trip.
/// </summary>
public class ConformanceTests
{
    static readonly string[] Plugins = [Repo.Plugin("Mechanist.Plugins.FastIca"), Repo.Plugin("Mechanist.Plugins.ModularArithmetic")];

    static MethodHost CreateHost() => MethodHost.Create(Plugins);

    public static TheoryData<string> AllMethods()
    {
        using var host = CreateHost();
        return new TheoryData<string>(host.MethodIds());
    }

    [Fact]
    public void The_catalog_holds_built_ins_and_the_plugins_without_load_findings()
    {
        using var host = MechanistHost.Create(Plugins);
        Assert.Empty(host.Catalog.LoadFindings);
        Assert.Contains(host.Catalog.Entries, e => e.IsBuiltIn);
        Assert.Contains(host.Catalog.Entries, e => e.Id == "fastica" && !e.IsBuiltIn);
        Assert.Contains(host.Catalog.Entries, e => e.Id == "modular-addition.fourier" && !e.IsBuiltIn);
    }

    [Theory]
    [MemberData(nameof(AllMethods))]
    public void Method_conforms(string id)
    {
        using var host = CreateHost();
        Conformance.Verify(host, id, OptionsFor(id));
    }

    /// <summary>What a method needs beyond the defaults: model loaders their folder and input.</summary>
    static ConformanceOptions OptionsFor(string id) => id switch
    {
        ModularAdditionTransformer.ModelTypeId => new() { ModelFolder = TinyModel.ModularAddition },
        Gpt2Config.ModelTypeName => new() { ModelFolder = Path.Combine(Repo.Root, "tests", "Fixtures", "gpt2-tiny") },
        Mlp.ModelTypeId => new() { ModelFolder = ToyFolders.Mlp, ModelInput = _ => rand(3, 8, generator: new Generator(4)) },
        ToySuperposition.ModelTypeId => new() { ModelFolder = ToyFolders.Superposition, ModelInput = _ => rand(3, 8, generator: new Generator(5)) },
        // Integrated gradients attributes to a continuous input, feature synthesis optimises soft tokens of a token model.
        "integrated-gradients" => new() { ModelFolder = ToyFolders.Mlp, ModelInput = _ => rand(3, 8, generator: new Generator(6)) },
        "feature-synthesis" => new() { Options = new Dictionary<string, string> { ["mode"] = "soft_tokens" } },
        // Feature attribution runs through a decomposition spliced into the model.
        "feature-attribution" => new() { AttributionDecomposition = true },
        // Trained decomposers: enough steps to move every parameter, twice (the determinism check), in a second or two.
        _ when id.StartsWith("sae.", StringComparison.Ordinal) || id is "transcoder" or "crosscoder" =>
            new() { Options = new Dictionary<string, string> { ["steps"] = "100" } },
        _ => new(),
    };

    [Fact]
    public void Check_ids_are_unique_across_validators_and_the_host()
    {
        using var host = MechanistHost.Create(Plugins);
        var ids = host.Catalog.OfKind(MethodKind.Validator)
            .SelectMany(e => MethodCatalog.Create<Validator>(e, host.Services).SupportedChecks.Select(c => c.Id))
            .Concat(InfrastructureChecks.All.Select(c => c.Id)).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        foreach (var check in InfrastructureChecks.All)
            Assert.True(File.Exists(Path.Combine(Repo.Root, check.HelpLink)), $"doc page {check.HelpLink}");
    }

    /// <summary>Model folders of the toy architectures, written once per process.</summary>
    static class ToyFolders
    {
        static readonly Lazy<string> Root = new(() =>
        {
            var root = Path.Combine(Path.GetTempPath(), "mechanist-tests", "toy-models-" + Guid.NewGuid().ToString("N")[..12]);
            using (var toy = ToySuperposition.Create(new ToySuperpositionConfig { NFeatures = 8, NHidden = 3 }, 2)) toy.Save(Path.Combine(root, "toy"));
            using (var mlp = Models.Architectures.Mlp.Create(new MlpConfig { LayerSizes = [8, 4, 2] }, 3)) mlp.Save(Path.Combine(root, "mlp"));
            AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(root, true); } catch (IOException) { } };
            return root;
        });

        public static string Mlp => Path.Combine(Root.Value, "mlp");
        public static string Superposition => Path.Combine(Root.Value, "toy");
    }
}
