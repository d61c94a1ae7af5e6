using System.Collections.Immutable;
using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Host.Discovery;
using Mechanist.Host.Running;
using Mechanist.Methods.Validators;
using Mechanist.Options;
using Mechanist.Testing;
using Mechanist.Validators;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NSubstitute;
using static TorchSharp.torch;

namespace Mechanist.Host.Tests;

public interface IClock
{
    DateTime Now { get; }
}

[Decomposer("test.injected", Title = "Injected", Summary = "Takes services from DI.")]
public sealed class InjectedDecomposer(IClock clock, ILogger<InjectedDecomposer> logger) : Decomposer
{
    public IClock Clock { get; } = clock;
    public ILogger Logger { get; } = logger;
    public override Decomposition Fit(DecomposeContext context) => throw new NotSupportedException();
}

[Validator("test.substitute", Title = "Substitute host", Summary = "Its descriptor is used with substituted instances.")]
public sealed class DescriptorOnlyValidator : Validator
{
    public override ImmutableArray<CheckDescriptor> SupportedChecks => [];
    public override void Validate(ValidationContext context) { }
}

public class CompositionTests
{
    static readonly CheckDescriptor Planted = new("MECH9100", "Planted", "planted value {0}", "Test", Severity.Warning, "docs/checks/MECH9100.md");

    [Fact]
    public void AddMechanist_is_idempotent()
    {
        var services = new ServiceCollection();
        services.AddMechanist().AddBuiltIns();
        services.AddMechanist().AddBuiltIns();
        Assert.Single(services, d => d.ServiceType == typeof(MethodRegistry));
        Assert.Single(services, d => d.ServiceType == typeof(MethodCatalog));
        using var provider = services.BuildServiceProvider();
        var catalog = provider.GetRequiredService<MethodCatalog>();
        Assert.Single(catalog.Entries, e => e.Id == "pca");
        Assert.Empty(catalog.LoadFindings);
    }

    [Fact]
    public void Methods_are_constructed_through_DI()
    {
        var clock = Substitute.For<IClock>();
        var services = new ServiceCollection();
        services.AddSingleton(clock);
        services.AddMechanist().AddMethod<InjectedDecomposer>();
        using var provider = services.BuildServiceProvider();
        var entry = provider.GetRequiredService<MethodCatalog>().Resolve("test.injected", MethodKind.Decomposer);
        var method = MethodCatalog.Create<Decomposer>(entry, provider);
        var injected = Assert.IsType<InjectedDecomposer>(method);
        Assert.Same(clock, injected.Clock);
        Assert.NotNull(injected.Logger);
    }

    [Fact]
    public void A_missing_constructor_dependency_is_MECH0001_for_that_method()
    {
        var services = new ServiceCollection();
        services.AddMechanist().AddMethod<InjectedDecomposer>();
        using var provider = services.BuildServiceProvider();
        var entry = provider.GetRequiredService<MethodCatalog>().Resolve("test.injected", MethodKind.Decomposer);
        var e = Assert.Throws<MethodFailedException>(() => MethodCatalog.Create<Decomposer>(entry, provider));
        var finding = e.ToFinding();
        Assert.Equal("MECH0001", finding.Id);
        Assert.Equal(Severity.Error, finding.Severity);
        Assert.Contains("test.injected", finding.Message);
        Assert.Contains("IClock", finding.Message);
    }

    [Fact]
    public void Unknown_method_suggests_the_closest_id()
    {
        using var host = MechanistHost.Create([]);
        var e = Assert.Throws<MechanistInputException>(() => host.Catalog.Resolve("pcaa", MethodKind.Decomposer));
        Assert.Contains("MECH0003", e.Message);
        Assert.Contains("did you mean 'pca'", e.Message);
        var kind = Assert.Throws<MechanistInputException>(() => host.Catalog.Resolve("pca", MethodKind.Validator));
        Assert.Contains("is a decomposer, not a validator", kind.Message);
    }

    [Fact]
    public void A_throwing_decomposer_becomes_MECH0001()
    {
        using var host = MechanistHost.Create([Repo.Plugin(PluginFixtures.Faulty)]);
        var entry = host.Catalog.Resolve("test.throws", MethodKind.Decomposer);
        var decomposer = MethodCatalog.Create<Decomposer>(entry, host.Services);
        using var data = new ActivationMatrix("tiny", ones(4, 2));
        var context = new DecomposeContext { Activations = data, Options = MethodCatalog.BindOptions(entry, new Dictionary<string, string>()) };
        var e = Assert.Throws<MethodFailedException>(() => MethodInvoker.Invoke(entry, () => decomposer.Fit(context)));
        var finding = e.ToFinding();
        Assert.Equal("MECH0001", finding.Id);
        Assert.Contains("planted failure in Fit", finding.Message);
        Assert.Equal(entry.Source, finding.Location.Path);
        Assert.Equal("test.throws", finding.Location.Method);
    }

    [Fact]
    public void Input_errors_from_a_method_stay_input_errors()
    {
        var entry = new MethodEntry(MethodDescriptor.FromType(typeof(InjectedDecomposer)), typeof(InjectedDecomposer), "code");
        Assert.Throws<MechanistInputException>(() => MethodInvoker.Invoke<int>(entry, () => throw new MechanistInputException("bad")));
        Assert.Throws<OperationCanceledException>(() => MethodInvoker.Invoke<int>(entry, () => throw new OperationCanceledException()));
    }

    [Fact]
    public void A_throwing_validator_is_MECH0001_and_the_run_goes_on()
    {
        var entry = new MethodEntry(MethodDescriptor.FromType(typeof(DescriptorOnlyValidator)), typeof(DescriptorOnlyValidator), "code");
        var throwing = Substitute.For<Validator>();
        throwing.SupportedChecks.Returns([Planted]);
        throwing.When(v => v.Validate(Arg.Any<ValidationContext>())).Do(_ => throw new InvalidOperationException("boom"));
        var reporting = Substitute.For<Validator>();
        reporting.SupportedChecks.Returns([Planted]);
        reporting.When(v => v.Validate(Arg.Any<ValidationContext>())).Do(call => call.Arg<ValidationContext>().Report(Planted, [42]));

        var bound = MethodRunner.Bind(entry);
        var findings = new[] { throwing, reporting }
            .SelectMany(v => MethodRunner.Validate(bound, v, (report, measure) => new ValidationContext(report, measure) { Options = new NoOptions() }).Findings)
            .ToList();

        Assert.Equal(["MECH0001", "MECH9100"], findings.Select(f => f.Id));
        Assert.Contains("boom", findings[0].Message);
        Assert.Equal("planted value 42", findings[1].Message);
    }

    [Fact]
    public void The_faulty_plugin_validator_is_contained()
    {
        using var host = MechanistHost.Create([Repo.Plugin(PluginFixtures.Faulty)]);
        var entry = host.Catalog.Resolve("test.throwing-validator", MethodKind.Validator);
        var findings = MethodRunner.For(host).Validate(MethodRunner.Bind(entry), (report, measure) => new ValidationContext(report, measure) { Options = new NoOptions() }).Findings;
        var finding = Assert.Single(findings);
        Assert.Equal("MECH0001", finding.Id);
        Assert.Contains("planted failure in Validate", finding.Message);
    }

    [Fact]
    public void Reporting_an_undeclared_check_is_MECH0001()
    {
        var entry = new MethodEntry(MethodDescriptor.FromType(typeof(DescriptorOnlyValidator)), typeof(DescriptorOnlyValidator), "code");
        var liar = Substitute.For<Validator>();
        liar.SupportedChecks.Returns(ImmutableArray<CheckDescriptor>.Empty);
        liar.When(v => v.Validate(Arg.Any<ValidationContext>())).Do(call => call.Arg<ValidationContext>().Report(Planted, [1]));
        var findings = MethodRunner.Validate(MethodRunner.Bind(entry), liar, (report, measure) => new ValidationContext(report, measure) { Options = new NoOptions() }).Findings;
        Assert.Contains(findings, f => f.Id == "MECH0001" && f.Message.Contains("MECH9100"));
    }

    [Fact]
    public void Severity_none_suppresses_and_thresholds_are_configurable()
    {
        using var data = new ActivationMatrix("data", randn(64, 4, generator: new Generator(3)));
        using var sae = StandardSae.FromSignedLinear(eye(4).narrow(0, 0, 1), eye(4).narrow(0, 0, 1), zeros(4));
        Finding[] Run(CheckSettings settings)
        {
            var list = new List<Finding>();
            new DecompositionQuality().Validate(new ValidationContext(list.Add)
                { Options = new NoOptions(), Decomposition = sae, Activations = data, Settings = settings });
            return list.ToArray();
        }
        var defaults = Run(CheckSettings.Default);
        var ev = Assert.Single(defaults, f => f.Id == "MECH1001"); // one of four directions: explained variance ~0.25
        Assert.Equal(0.7, ev.Threshold);
        Assert.InRange(ev.Value!.Value, 0.1, 0.45);

        var relaxed = Run(new CheckSettings(Thresholds: new Dictionary<string, double> { ["MECH1001"] = 0.1 }));
        Assert.DoesNotContain(relaxed, f => f.Id == "MECH1001");

        var silenced = Run(new CheckSettings(Severities: new Dictionary<string, Severity> { ["MECH1001"] = Severity.None }));
        Assert.DoesNotContain(silenced, f => f.Id == "MECH1001");

        var promoted = Run(new CheckSettings(Severities: new Dictionary<string, Severity> { ["MECH1001"] = Severity.Error }));
        Assert.Equal(Severity.Error, Assert.Single(promoted, f => f.Id == "MECH1001").Severity);
    }

    [Fact]
    public void Non_finite_weights_are_an_error_finding()
    {
        var wDec = eye(2);
        wDec[0, 0] = tensor(float.NaN);
        using var sae = new StandardSae(eye(2), zeros(2), wDec, zeros(2));
        var list = new List<Finding>();
        new DecompositionQuality().Validate(new ValidationContext(list.Add) { Options = new NoOptions(), Decomposition = sae });
        var finding = Assert.Single(list);
        Assert.Equal("MECH1005", finding.Id);
        Assert.Equal(Severity.Error, finding.Severity);
        Assert.Contains("'W_dec'", finding.Message);
    }
}
