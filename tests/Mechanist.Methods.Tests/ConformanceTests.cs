using Mechanist.Decomposers;
using Mechanist.Host;
using Mechanist.Host.Checks;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Host.Running;
using Mechanist.Options;
using Mechanist.Testing;
using Mechanist.Validators;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

/// <summary>
/// One suite over every registered method, built-in and plugin (like the analyzer conformance suites): descriptor
/// complete, options bind and validate, runs on a tiny input, and its output round-trips.
/// </summary>
public class ConformanceTests
{
    static readonly string[] Plugins = [Repo.Plugin("Mechanist.Plugins.FastIca"), Repo.Plugin("Mechanist.Plugins.ModularArithmetic")];

    static MechanistHost CreateHost() => MechanistHost.Create(Plugins);

    public static TheoryData<string> AllMethods()
    {
        using var host = CreateHost();
        var data = new TheoryData<string>();
        foreach (var e in host.Catalog.Entries) data.Add(e.Id);
        return data;
    }

    public static TheoryData<string> Decomposers()
    {
        using var host = CreateHost();
        var data = new TheoryData<string>();
        foreach (var e in host.Catalog.OfKind(MethodKind.Decomposer)) data.Add(e.Id);
        return data;
    }

    public static TheoryData<string> Validators()
    {
        using var host = CreateHost();
        var data = new TheoryData<string>();
        foreach (var e in host.Catalog.OfKind(MethodKind.Validator)) data.Add(e.Id);
        return data;
    }

    [Fact]
    public void The_catalog_holds_built_ins_and_the_plugin_without_load_findings()
    {
        using var host = CreateHost();
        Assert.Empty(host.Catalog.LoadFindings);
        Assert.Contains(host.Catalog.Entries, e => e.IsBuiltIn);
        Assert.Contains(host.Catalog.Entries, e => !e.IsBuiltIn);
    }

    [Theory]
    [MemberData(nameof(AllMethods))]
    public void Descriptor_is_complete(string id)
    {
        using var host = CreateHost();
        var d = host.Catalog.Entries.Single(e => e.Id == id).Descriptor;
        Assert.False(string.IsNullOrWhiteSpace(d.Title), "title");
        Assert.False(string.IsNullOrWhiteSpace(d.Summary), "summary");
        Assert.False(string.IsNullOrWhiteSpace(d.Reference), "reference");
        Assert.False(string.IsNullOrWhiteSpace(d.HelpLink), "help link");
        Assert.True(File.Exists(Path.Combine(Repo.Root, d.HelpLink!)), $"help page {d.HelpLink} exists");
        foreach (var option in d.Options)
        {
            Assert.False(string.IsNullOrWhiteSpace(option.Description), $"option {option.Name} is documented");
            Assert.Matches("^[a-z][a-z0-9_]*$", option.Name);
        }
    }

    [Theory]
    [MemberData(nameof(AllMethods))]
    public void Default_options_validate_and_round_trip_through_their_text(string id)
    {
        using var host = CreateHost();
        var entry = host.Catalog.Entries.Single(e => e.Id == id);
        var defaults = MethodCatalog.BindOptions(entry, new Dictionary<string, string>());
        var asText = entry.Descriptor.Options.ToDictionary(o => o.Name, o => o.DefaultValue);
        var rebound = MethodCatalog.BindOptions(entry, asText);
        Assert.Equal(defaults, rebound);
        var unknown = Assert.Throws<MechanistInputException>(() =>
            MethodCatalog.BindOptions(entry, new Dictionary<string, string> { ["definitely_not_an_option"] = "1" }));
        Assert.Contains(id, unknown.Message);
    }

    [Theory]
    [MemberData(nameof(Decomposers))]
    public void Decomposer_runs_on_a_tiny_input_and_round_trips(string id)
    {
        using var host = CreateHost();
        var entry = host.Catalog.Resolve(id, MethodKind.Decomposer);
        using var data = new ActivationMatrix("tiny", randn(256, 32, generator: new Generator(11)).pow(3));
        // Row-aligned targets of another width, for decomposers that map input to output (a transcoder); others ignore them.
        using var targets = new ActivationMatrix("tiny-targets", randn(256, 16, generator: new Generator(12)));
        var context = new DecomposeContext
        {
            Activations = data, Targets = targets, Options = MethodCatalog.BindOptions(entry, new Dictionary<string, string>()), Seed = 1,
        };
        using var decomposition = MethodInvoker.Invoke(entry, () => MethodCatalog.Create<Decomposer>(entry, host.Services).Fit(context));
        Assert.Equal(32, decomposition.DIn);
        Assert.True(decomposition.DSae > 0);
        foreach (var (name, t) in decomposition.StateDict())
            Assert.True(isfinite(t).all().item<bool>(), $"{name} is finite");

        using var temp = new TempDir();
        DecompositionFolder.Save(temp.File("out"), decomposition);
        using var loaded = DecompositionFolder.Load(temp.File("out"));
        Assert.Equal(decomposition.Architecture, loaded.Architecture);
        foreach (var (name, t) in decomposition.StateDict())
            Assert.True(TensorAssert.Identical(t, loaded.StateDict()[name]), $"{id}: {name} round-trips bit for bit");
        Assert.True(TensorAssert.Identical(decomposition.Encode(data.Data), loaded.Encode(data.Data)));
        Assert.Equal(["out", "out/cfg.json", "out/sae_weights.safetensors"], temp.Entries());
    }

    [Theory]
    [MemberData(nameof(Validators))]
    public void Validator_declares_documented_checks_and_reports_only_those(string id)
    {
        using var host = CreateHost();
        var entry = host.Catalog.Resolve(id, MethodKind.Validator);
        var validator = MethodCatalog.Create<Validator>(entry, host.Services);
        Assert.NotEmpty(validator.SupportedChecks);
        foreach (var check in validator.SupportedChecks)
        {
            Assert.True(CheckDescriptor.IsValidId(check.Id), check.Id);
            Assert.False(check.Id.StartsWith("MECH0", StringComparison.Ordinal), "MECH0xxx is reserved for the host");
            Assert.True(File.Exists(Path.Combine(Repo.Root, check.HelpLink)), $"doc page {check.HelpLink}");
            Assert.False(string.IsNullOrWhiteSpace(check.MetricDefinition), $"{check.Id} defines its metric");
        }
        using var data = new ActivationMatrix("tiny", randn(64, 4, generator: new Generator(2)));
        using var sae = StandardSae.FromSignedLinear(eye(4), eye(4), zeros(4));
        var bound = MethodRunner.Bind(entry);
        var findings = MethodRunner.Validate(bound, validator, (report, measure) => new ValidationContext(report, measure)
        {
            Options = bound.Options, Decomposition = sae, Activations = data, MethodId = id,
        }).Findings;
        Assert.DoesNotContain(findings, f => f.Id == InfrastructureChecks.MethodThrew.Id);

        // No check passes by not running: given nothing, a validator that requires inputs says it could not run (MECH0013).
        var bare = MethodRunner.Validate(bound, validator, (report, measure) => new ValidationContext(report, measure) { Options = bound.Options, MethodId = id }).Findings;
        Assert.DoesNotContain(bare, f => f.Id == InfrastructureChecks.MethodThrew.Id);
        if (entry.Descriptor.Requires != ValidationInputs.None)
            Assert.Contains(bare, f => f.Id == ValidatorChecks.CouldNotRun.Id && f.Message.Contains(id));
    }

    [Fact]
    public void Check_ids_are_unique_across_validators_and_the_host()
    {
        using var host = CreateHost();
        var ids = host.Catalog.OfKind(MethodKind.Validator)
            .SelectMany(e => MethodCatalog.Create<Validator>(e, host.Services).SupportedChecks.Select(c => c.Id))
            .Concat(InfrastructureChecks.All.Select(c => c.Id)).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        foreach (var check in InfrastructureChecks.All)
            Assert.True(File.Exists(Path.Combine(Repo.Root, check.HelpLink)), $"doc page {check.HelpLink}");
    }
}
