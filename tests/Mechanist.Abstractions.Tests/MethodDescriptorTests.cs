using System.Collections.Immutable;
using Mechanist.Attribution;
using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Interpreters;
using Mechanist.Options;
using Mechanist.Validators;

namespace Mechanist.Abstractions.Tests;

public sealed record MyOptions : MethodOptions
{
    [Option("How many components.")]
    public int Components { get; init; } = 8;

    public double L1Coefficient { get; init; } = 0.01;
}

[Decomposer("my.method", Title = "My method", Summary = "Does a small thing.", Reference = "Doe 2024", HelpLink = "docs/my.md")]
public sealed class MyDecomposer : Decomposer<MyOptions>
{
    protected override Decomposition Fit(DecomposeContext context, MyOptions options) => throw new NotSupportedException();
}

[Interpreter("plain-interp_1")]
public sealed class PlainInterpreter : Interpreter
{
    public override IReadOnlyList<FeatureExplanation> Interpret(InterpretContext context) => [];
}

[Validator("my.validator")]
public sealed class MyValidator : Validator<MyOptions>
{
    public override ImmutableArray<CheckDescriptor> SupportedChecks => [];

    protected override void Validate(ValidationContext context, MyOptions options) { }
}

[AttributionMethod("my.attribution")]
public sealed class MyAttribution : AttributionMethod
{
    public override AttributionResult Attribute(AttributionContext context) => throw new NotSupportedException();
}

/// <summary>Typed options reached through an intermediate, non-generic base class.</summary>
public abstract class MyIntermediateDecomposer : Decomposer<MyOptions>;

[Decomposer("derived")]
public sealed class DerivedDecomposer : MyIntermediateDecomposer
{
    protected override Decomposition Fit(DecomposeContext context, MyOptions options) => throw new NotSupportedException();
}

[Decomposer("Bad ID")]
public sealed class BadIdWithSpace : Decomposer
{
    public override Decomposition Fit(DecomposeContext context) => throw new NotSupportedException();
}

[Decomposer("")]
public sealed class BadIdEmpty : Decomposer
{
    public override Decomposition Fit(DecomposeContext context) => throw new NotSupportedException();
}

[Decomposer("1abc")]
public sealed class BadIdDigitFirst : Decomposer
{
    public override Decomposition Fit(DecomposeContext context) => throw new NotSupportedException();
}

[Decomposer("wrong.base")]
public sealed class NotADecomposer;

[Validator("wrong.kind")]
public sealed class DecomposerMarkedAsValidator : Decomposer
{
    public override Decomposition Fit(DecomposeContext context) => throw new NotSupportedException();
}

[AttributionMethod("wrong.attribution")]
public sealed class InterpreterMarkedAsAttribution : Interpreter
{
    public override IReadOnlyList<FeatureExplanation> Interpret(InterpretContext context) => [];
}

[Decomposer("abstract.method")]
public abstract class AbstractDecomposer : Decomposer;

[Decomposer("generic.method")]
public sealed class GenericDecomposer<T> : Decomposer
{
    public override Decomposition Fit(DecomposeContext context) => throw new NotSupportedException();
}

public sealed class UnmarkedDecomposer : Decomposer
{
    public override Decomposition Fit(DecomposeContext context) => throw new NotSupportedException();
}

[Decomposer("marked.base")]
public class MarkedBaseDecomposer : Decomposer
{
    public override Decomposition Fit(DecomposeContext context) => throw new NotSupportedException();
}

public sealed class SubclassOfMarkedDecomposer : MarkedBaseDecomposer;

public sealed record ListOnlyOptions : MethodOptions
{
    public List<string> Names { get; init; } = [];
}

[Decomposer("bad.options")]
public sealed class BadOptionsDecomposer : Decomposer<ListOnlyOptions>
{
    protected override Decomposition Fit(DecomposeContext context, ListOnlyOptions options) => throw new NotSupportedException();
}

public sealed class MethodDescriptorTests
{
    [Fact]
    public void FromType_reads_the_attribute_and_the_typed_options()
    {
        var d = MethodDescriptor.FromType(typeof(MyDecomposer));
        Assert.Equal("my.method", d.Id);
        Assert.Equal(MethodKind.Decomposer, d.Kind);
        Assert.Equal("My method", d.Title);
        Assert.Equal("Does a small thing.", d.Summary);
        Assert.Equal("Doe 2024", d.Reference);
        Assert.Equal("docs/my.md", d.HelpLink);
        Assert.Equal(typeof(MyOptions), d.OptionsType);
        Assert.Equal(["components", "l1_coefficient"], d.Options.Select(o => o.Name).Order());
        var components = Assert.Single(d.Options, o => o.Name == "components");
        Assert.Equal("8", components.DefaultValue);
        Assert.Equal("How many components.", components.Description);
    }

    [Theory]
    [InlineData(typeof(PlainInterpreter), "plain-interp_1", MethodKind.Interpreter)]
    [InlineData(typeof(MyValidator), "my.validator", MethodKind.Validator)]
    [InlineData(typeof(MyAttribution), "my.attribution", MethodKind.Attribution)]
    [InlineData(typeof(DerivedDecomposer), "derived", MethodKind.Decomposer)]
    public void FromType_for_each_kind(Type type, string id, MethodKind kind)
    {
        var d = MethodDescriptor.FromType(type);
        Assert.Equal(id, d.Id);
        Assert.Equal(kind, d.Kind);
        Assert.Equal("", d.Title);
        Assert.Null(d.Reference);
    }

    [Fact]
    public void Options_through_an_intermediate_base_class()
    {
        Assert.Equal(typeof(MyOptions), MethodDescriptor.FromType(typeof(DerivedDecomposer)).OptionsType);
        Assert.Equal(typeof(MyOptions), MethodDescriptor.FromType(typeof(MyValidator)).OptionsType);
    }

    [Theory]
    [InlineData(typeof(PlainInterpreter))]
    [InlineData(typeof(MyAttribution))]
    public void Method_without_typed_options_gets_NoOptions(Type type)
    {
        var d = MethodDescriptor.FromType(type);
        Assert.Equal(typeof(NoOptions), d.OptionsType);
        Assert.Empty(d.Options);
    }

    [Theory]
    [InlineData(typeof(BadIdWithSpace), "Bad ID")]
    [InlineData(typeof(BadIdEmpty), "")]
    [InlineData(typeof(BadIdDigitFirst), "1abc")]
    public void Invalid_ids_are_refused_naming_the_type(Type type, string id)
    {
        var e = Assert.Throws<InvalidMethodException>(() => MethodDescriptor.FromType(type));
        Assert.Equal(type, e.MethodType);
        Assert.Contains(type.FullName!, e.Message);
        Assert.Contains($"ID '{id}'", e.Message);
        Assert.Contains("not valid", e.Message);
    }

    [Theory]
    [InlineData("sae.topk", true)]
    [InlineData("pca", true)]
    [InlineData("a-b_c.9", true)]
    [InlineData("x", true)]
    [InlineData("Bad ID", false)]
    [InlineData("", false)]
    [InlineData("1abc", false)]
    [InlineData("Sae", false)]
    [InlineData("sae topk", false)]
    [InlineData("_sae", false)]
    [InlineData(".sae", false)]
    [InlineData("sae/topk", false)]
    [InlineData("saé", false)]
    public void IsValidId(string id, bool valid) => Assert.Equal(valid, MethodDescriptor.IsValidId(id));

    [Fact]
    public void Attribute_on_a_class_not_deriving_the_base_type()
    {
        var e = Assert.Throws<InvalidMethodException>(() => MethodDescriptor.FromType(typeof(NotADecomposer)));
        Assert.Contains(typeof(NotADecomposer).FullName!, e.Message);
        Assert.Contains("does not derive from Mechanist.Decomposers.Decomposer", e.Message);
        Assert.Contains("[Decomposer(\"wrong.base\")]", e.Message);

        var v = Assert.Throws<InvalidMethodException>(() => MethodDescriptor.FromType(typeof(DecomposerMarkedAsValidator)));
        Assert.Contains("Mechanist.Validators.Validator", v.Message);
        Assert.Contains("[Validator(\"wrong.kind\")]", v.Message);

        var a = Assert.Throws<InvalidMethodException>(() => MethodDescriptor.FromType(typeof(InterpreterMarkedAsAttribution)));
        Assert.Contains("[AttributionMethod(\"wrong.attribution\")]", a.Message);
        Assert.Contains("Mechanist.Attribution.AttributionMethod", a.Message);
    }

    [Fact]
    public void Abstract_or_generic_classes_are_refused()
    {
        var e = Assert.Throws<InvalidMethodException>(() => MethodDescriptor.FromType(typeof(AbstractDecomposer)));
        Assert.Contains(typeof(AbstractDecomposer).FullName!, e.Message);
        Assert.Contains("abstract", e.Message);

        var g = Assert.Throws<InvalidMethodException>(() => MethodDescriptor.FromType(typeof(GenericDecomposer<>)));
        Assert.Contains("generic", g.Message);
    }

    [Fact]
    public void Unmarked_class_is_refused()
    {
        var e = Assert.Throws<InvalidMethodException>(() => MethodDescriptor.FromType(typeof(UnmarkedDecomposer)));
        Assert.Contains(typeof(UnmarkedDecomposer).FullName!, e.Message);
        Assert.Contains("no method attribute", e.Message);
    }

    [Fact]
    public void Method_attribute_is_not_inherited()
    {
        // MethodAttribute has Inherited = false: a subclass of a marked class is not itself a method.
        Assert.Equal("marked.base", MethodDescriptor.FromType(typeof(MarkedBaseDecomposer)).Id);
        var e = Assert.Throws<InvalidMethodException>(() => MethodDescriptor.FromType(typeof(SubclassOfMarkedDecomposer)));
        Assert.Contains("no method attribute", e.Message);
    }

    [Fact]
    public void Options_that_cannot_be_described_surface_as_ArgumentException()
    {
        var e = Assert.Throws<ArgumentException>(() => MethodDescriptor.FromType(typeof(BadOptionsDecomposer)));
        Assert.Contains("Names", e.Message);
    }

    [Fact]
    public void Kind_names()
    {
        Assert.Equal("decomposer", MethodKind.Decomposer.ToName());
        Assert.Equal("model-loader", MethodKind.ModelLoader.ToName());
        Assert.Equal(5, Enum.GetValues<MethodKind>().Select(k => k.ToName()).Distinct().Count());
    }
}
