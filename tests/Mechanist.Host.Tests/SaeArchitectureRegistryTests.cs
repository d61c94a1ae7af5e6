using System.Text.Json.Nodes;
using Mechanist.Decomposers;
using Mechanist.Host.Checks;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Host.Tests;

/// <summary>
/// SAELens architectures register by attribute, from any assembly the host discovers methods in (the built-ins through the
/// same attribute): a folder naming a registered architecture loads through its loader; a name already held is MECH0004,
/// a loader of the wrong shape MECH0002. This assembly declares the three below, and only this test registers it.
/// </summary>
public class SaeArchitectureRegistryTests
{
    [Fact]
    public void Discovery_registers_architectures_by_attribute_and_reports_a_taken_name_and_a_bad_loader()
    {
        Assert.Contains("standard", SaeArchitectures.Names);
        Assert.Contains("skip_transcoder", SaeArchitectures.Names);
        Assert.Equal(nameof(TopKSae.Load), SaeArchitectures.LoaderOf("topk")!.Name);
        Assert.DoesNotContain(TestArchitectures.Name, SaeArchitectures.Names);

        var registry = new MethodRegistry();
        registry.AddAssembly(typeof(TestArchitectures).Assembly, "tests");
        var taken = Assert.Single(registry.Findings, f => f.Id == InfrastructureChecks.DuplicateMethodId.Id);
        Assert.Contains("SAE architecture 'standard'", taken.Message);
        Assert.Contains("StandardSae.Load", taken.Message);
        var bad = Assert.Single(registry.Findings, f => f.Id == InfrastructureChecks.PluginLoadFailed.Id);
        Assert.Contains("SAE architecture 'test_instance' of Mechanist.Host.Tests.TestArchitectureHolder.NotStatic", bad.Message);
        Assert.Equal(2, registry.Findings.Count);
        // The built-in keeps its name; the registered one loads.
        Assert.Equal(nameof(StandardSae.Load), SaeArchitectures.LoaderOf("standard")!.Name);
        Assert.Contains(TestArchitectures.Name, SaeArchitectures.Names);

        using var temp = new TempDir();
        var g = new Generator(3);
        using var sae = new StandardSae(randn(4, 6, generator: g), randn(6, generator: g), randn(6, 4, generator: g), randn(4, generator: g));
        DecompositionFolder.Save(temp.File("sae"), sae);
        var cfgPath = temp.File("sae/cfg.json");
        var cfg = JsonNode.Parse(File.ReadAllText(cfgPath))!;
        cfg["architecture"] = TestArchitectures.Name;
        File.WriteAllText(cfgPath, cfg.ToJsonString());
        TestArchitectures.Loads = 0;
        using var loaded = DecompositionFolder.Load(temp.File("sae"));
        Assert.Equal(1, TestArchitectures.Loads);
        using var x = randn(3, 4, generator: g);
        Assert.True(TensorAssert.Identical(sae.Encode(x), loaded.Encode(x)));

        // Registering the assembly again changes nothing and reports nothing.
        var again = new MethodRegistry();
        again.AddAssembly(typeof(TestArchitectures).Assembly, "tests");
        Assert.Empty(again.Findings);
    }
}

public static class TestArchitectures
{
    public const string Name = "test_registered";

    public static int Loads;

    [SaeArchitecture(Name)]
    public static Decomposition LoadRegistered(SaeLoadContext c)
    {
        Loads++;
        return StandardSae.Load(c);
    }

    [SaeArchitecture("standard")]
    public static Decomposition LoadTaken(SaeLoadContext c) => throw new InvalidOperationException("never registered");
}

public sealed class TestArchitectureHolder
{
    [SaeArchitecture("test_instance")]
    public Decomposition NotStatic(SaeLoadContext c) => throw new InvalidOperationException("never registered");
}
