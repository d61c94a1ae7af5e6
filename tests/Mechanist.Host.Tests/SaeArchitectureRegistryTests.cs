using System.Reflection;
using System.Reflection.Emit;
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
/// a loader of the wrong shape MECH0002.
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

        var emitted = TestArchitectures.Emit();
        var registry = new MethodRegistry();
        registry.AddAssembly(emitted, "tests");
        var taken = Assert.Single(registry.Findings, f => f.Id == InfrastructureChecks.DuplicateMethodId.Id);
        Assert.Contains("SAE architecture 'standard'", taken.Message);
        Assert.Contains("StandardSae.Load", taken.Message);
        var bad = Assert.Single(registry.Findings, f => f.Id == InfrastructureChecks.PluginLoadFailed.Id);
        Assert.Contains("SAE architecture 'test_instance' of Architectures.NotStatic", bad.Message);
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
        using var loaded = DecompositionFolder.Load(temp.File("sae"));
        Assert.IsType<StandardSae>(loaded);
        using var x = randn(3, 4, generator: g);
        Assert.True(TensorAssert.Identical(sae.Encode(x), loaded.Encode(x)));

        // Registering the assembly again changes nothing and reports nothing.
        var again = new MethodRegistry();
        again.AddAssembly(emitted, "tests");
        Assert.Empty(again.Findings);
    }
}

/// <summary>
/// An assembly of its own per call (emitted, so no other test can have registered it), holding the loaders
/// <c>Architectures.LoadRegistered</c> (<see cref="Name"/>, through <see cref="StandardSae.Load"/>), <c>Architectures.LoadTaken</c>
/// ("standard") and the instance method <c>Architectures.NotStatic</c> ("test_instance").
/// </summary>
static class TestArchitectures
{
    public static readonly string Name = "test_registered_" + Guid.NewGuid().ToString("N")[..8];

    public static Assembly Emit()
    {
        var assembly = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName("Mechanist.Tests.Architectures" + Name), AssemblyBuilderAccess.Run);
        var type = assembly.DefineDynamicModule("m").DefineType("Architectures", TypeAttributes.Public | TypeAttributes.Class);
        var attribute = typeof(SaeArchitectureAttribute).GetConstructor([typeof(string)])!;
        void Loader(string method, string name, bool isStatic, Action<ILGenerator> body)
        {
            var m = type.DefineMethod(method, MethodAttributes.Public | (isStatic ? MethodAttributes.Static : 0), typeof(Decomposition), [typeof(SaeLoadContext)]);
            m.SetCustomAttribute(new CustomAttributeBuilder(attribute, [name]));
            var il = m.GetILGenerator();
            body(il);
            il.Emit(OpCodes.Ret);
        }
        Loader("LoadRegistered", Name, true, il => { il.Emit(OpCodes.Ldarg_0); il.Emit(OpCodes.Call, typeof(StandardSae).GetMethod(nameof(StandardSae.Load))!); });
        Loader("LoadTaken", "standard", true, il => il.Emit(OpCodes.Ldnull));
        Loader("NotStatic", "test_instance", false, il => il.Emit(OpCodes.Ldnull));
        type.CreateType();
        return assembly;
    }
}
