using Mechanist.Host.Checks;
using Mechanist.Host.Plugins;
using Mechanist.Testing;

namespace Mechanist.Host.Tests;

public class PluginLoadingTests
{
    [Fact]
    public void Built_ins_are_discovered_by_attribute()
    {
        using var host = MechanistHost.Create([]);
        var pca = host.Catalog.Resolve("pca", MethodKind.Decomposer);
        Assert.True(pca.IsBuiltIn);
        Assert.Equal("Mechanist.Methods", pca.AssemblyName);
        Assert.Contains(host.Catalog.Entries, e => e.Id == "decomposition.quality" && e.Kind == MethodKind.Validator);
        Assert.Empty(host.Catalog.LoadFindings);
    }

    [Fact]
    public void The_sample_plugin_loads_from_its_folder_and_shares_the_contracts()
    {
        using var host = MechanistHost.Create([Repo.Plugin(PluginFixtures.FastIca)]);
        Assert.Empty(host.Catalog.LoadFindings);
        var ica = host.Catalog.Resolve("fastica", MethodKind.Decomposer);
        Assert.False(ica.IsBuiltIn);
        Assert.EndsWith("Mechanist.Plugins.FastIca.dll", ica.Source);
        // Shared types: the plugin's Decomposer base is the host's.
        Assert.True(typeof(Decomposers.Decomposer).IsAssignableFrom(ica.Type));
        Assert.Same(typeof(Decomposers.Decomposer).Assembly, ica.Type.BaseType!.BaseType!.Assembly);
    }

    [Fact]
    public void A_folder_of_plugin_folders_loads_each()
    {
        using var temp = new TempDir();
        PluginFixtures.CopyPlugin(PluginFixtures.FastIca, temp.Path);
        PluginFixtures.CopyPlugin(PluginFixtures.Faulty, temp.Path);
        using var host = MechanistHost.Create([temp.Path]);
        Assert.Contains(host.Catalog.Entries, e => e.Id == "fastica");
        Assert.Contains(host.Catalog.Entries, e => e.Id == "test.throws");
    }

    [Fact]
    public void Duplicate_ids_keep_the_first_and_report_MECH0004()
    {
        using var host = MechanistHost.Create([Repo.Plugin(PluginFixtures.Faulty)]);
        Assert.True(host.Catalog.Resolve("pca", MethodKind.Decomposer).IsBuiltIn);
        var duplicate = Assert.Single(host.Catalog.LoadFindings, f => f.Id == InfrastructureChecks.DuplicateMethodId.Id);
        Assert.Contains("'pca'", duplicate.Message);
        Assert.Contains("Mechanist.TestPlugins.Faulty.dll", duplicate.Message);
        Assert.Contains("built-in", duplicate.Message);
    }

    [Fact]
    public void A_method_type_with_the_wrong_base_is_a_load_finding_naming_it()
    {
        using var host = MechanistHost.Create([Repo.Plugin(PluginFixtures.Faulty)]);
        var finding = Assert.Single(host.Catalog.LoadFindings, f => f.Id == InfrastructureChecks.PluginLoadFailed.Id);
        Assert.Contains("Mechanist.TestPlugins.Faulty.WrongBase", finding.Message);
        Assert.Contains("does not derive from Mechanist.Decomposers.Decomposer", finding.Message);
        Assert.DoesNotContain(host.Catalog.Entries, e => e.Id == "test.wrong-base");
    }

    [Fact]
    public void A_plugin_carrying_its_own_libtorch_is_refused_before_loading()
    {
        using var temp = new TempDir();
        var folder = PluginFixtures.CopyPlugin(PluginFixtures.FastIca, temp.Path);
        var native = Path.Combine(folder, "runtimes", "linux-x64", "native");
        Directory.CreateDirectory(native);
        File.WriteAllBytes(Path.Combine(native, "libtorch_cpu.so"), [0x7f, (byte)'E', (byte)'L', (byte)'F']);

        using var host = MechanistHost.Create([folder]);
        var finding = Assert.Single(host.Catalog.LoadFindings);
        Assert.Equal("MECH0002", finding.Id);
        Assert.Contains(folder, finding.Message);
        Assert.Contains("native libtorch", finding.Message);
        Assert.Contains("libtorch_cpu.so", finding.Message);
        Assert.DoesNotContain(host.Catalog.Entries, e => e.Id == "fastica");
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.Location.StartsWith(temp.Path, StringComparison.Ordinal));
    }

    [Fact]
    public void A_corrupt_assembly_is_a_finding_not_a_crash()
    {
        using var temp = new TempDir();
        var folder = Path.Combine(temp.Path, "Broken");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "Broken.dll"), "MZ this is not a PE file"u8.ToArray());
        using var host = MechanistHost.Create([folder]);
        var finding = Assert.Single(host.Catalog.LoadFindings);
        Assert.Equal("MECH0002", finding.Id);
        Assert.Contains("Broken.dll", finding.Message);
        Assert.Contains("not a valid .NET assembly", finding.Message);
        Assert.True(host.Catalog.Resolve("pca", MethodKind.Decomposer).IsBuiltIn); // the host still works
    }

    [Fact]
    public void A_plugin_built_against_another_contracts_version_is_refused()
    {
        using var temp = new TempDir();
        var path = PluginFixtures.WriteAssemblyReferencingContracts(Path.Combine(temp.Path, "Future"), "Future", new Version(99, 0, 0, 0));
        using var host = MechanistHost.Create([path]);
        var finding = Assert.Single(host.Catalog.LoadFindings);
        Assert.Equal("MECH0002", finding.Id);
        Assert.Contains(path, finding.Message);
        Assert.Contains("built against Mechanist.Abstractions 99.0", finding.Message);
        Assert.Contains($"provides {PluginFixtures.HostContractsVersion.ToString(2)}", finding.Message);
    }

    [Fact]
    public void A_plugin_built_against_the_same_contracts_version_passes_preflight()
    {
        using var temp = new TempDir();
        var path = PluginFixtures.WriteAssemblyReferencingContracts(Path.Combine(temp.Path, "Same"), "Same", PluginFixtures.HostContractsVersion);
        Assert.Null(PluginLoader.Preflight(path, PluginFixtures.HostContractsVersion));
    }

    [Fact]
    public void An_assembly_that_does_not_reference_the_contracts_is_not_a_plugin()
    {
        using var temp = new TempDir();
        var folder = Path.Combine(temp.Path, "Other");
        Directory.CreateDirectory(folder);
        File.Copy(typeof(NSubstitute.Substitute).Assembly.Location, Path.Combine(folder, "Other.dll"));
        using var host = MechanistHost.Create([folder]);
        var finding = Assert.Single(host.Catalog.LoadFindings);
        Assert.Contains("does not reference Mechanist.Abstractions", finding.Message);
    }

    [Fact]
    public void A_missing_plugin_path_is_an_input_error_naming_it()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-plugin-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<MechanistInputException>(() => MechanistHost.Create([missing]));
        Assert.Contains(missing, e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void An_empty_plugin_folder_is_a_finding()
    {
        using var temp = new TempDir();
        using var host = MechanistHost.Create([temp.Path]);
        var finding = Assert.Single(host.Catalog.LoadFindings);
        Assert.Contains("no plugin assembly found", finding.Message);
    }

    [Theory]
    [InlineData("libtorch_cpu.so", true)]
    [InlineData("libtorch.so.2", true)]
    [InlineData("libLibTorchSharp.so", true)]
    [InlineData("libc10.so", true)]
    [InlineData("LibTorchSharp.dll", true)]
    [InlineData("torch_cpu.dll", true)]
    [InlineData("TorchSharp.dll", false)]
    [InlineData("Mechanist.Plugins.FastIca.dll", false)]
    [InlineData("libtorchvision_notes.txt", false)]
    public void Native_libtorch_file_names_are_recognised(string name, bool native) =>
        Assert.Equal(native, PluginLoader.IsNativeTorch(name));
}
