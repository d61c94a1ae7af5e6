using System.Collections.Immutable;
using Mechanist.Options;

namespace Mechanist.Abstractions.Tests;

public enum SampleMode { Fast, VerySlow, TopK }

public sealed record SampleOptions : MethodOptions
{
    [Option("Number of components.")]
    public int Components { get; init; } = 16;

    public long MaxIterations { get; init; } = 1000;

    public double L1Coefficient { get; init; } = 0.001;

    public float LearningRate { get; init; } = 0.5f;

    public bool Normalize { get; init; } = true;

    public string? Label { get; init; }

    public string Prefix { get; init; } = "feat";

    public SampleMode Mode { get; init; } = SampleMode.VerySlow;

    public int K { get; init; } = 4;

    [Option("Renamed on the command line.", Name = "x")]
    public int Renamed { get; init; } = 7;

    public int? Seed { get; init; }

    /// <summary>Read-only: not an option.</summary>
    public int Derived => Components * 2;
}

public sealed record ValidatedOptions : MethodOptions
{
    public int Components { get; init; } = 4;

    public double Sparsity { get; init; } = 0.5;

    public override IEnumerable<OptionError> Validate()
    {
        if (Components <= 0) yield return new OptionError("components", "must be positive");
        if (Sparsity is < 0 or > 1) yield return new OptionError("sparsity", "must lie in [0, 1]");
    }
}

public sealed record ListOptions : MethodOptions
{
    public List<int> Values { get; init; } = [];
}

public sealed record NoDefaultConstructorOptions(int Size) : MethodOptions;

public sealed class OptionsTests
{
    static readonly ImmutableArray<OptionDescriptor> Sample = OptionSchema.Describe(typeof(SampleOptions));

    static SampleOptions Bind(params (string Key, string Value)[] values) =>
        (SampleOptions)OptionBinder.Bind("test.method", typeof(SampleOptions), Sample,
            values.ToDictionary(v => v.Key, v => v.Value));

    static OptionDescriptor Option(string name) => Assert.Single(Sample, o => o.Name == name);

    [Theory]
    [InlineData("L1Coefficient", "l1_coefficient")]
    [InlineData("K", "k")]
    [InlineData("MaxIterations", "max_iterations")]
    [InlineData("Components", "components")]
    [InlineData("DSae", "d_sae")]
    [InlineData("HTTPServer", "http_server")]
    [InlineData("TopK", "top_k")]
    [InlineData("Layer2Norm", "layer2_norm")]
    public void Snake_case(string name, string expected) => Assert.Equal(expected, OptionSchema.ToSnakeCase(name));

    [Fact]
    public void Describe_lists_names_types_defaults_and_descriptions()
    {
        Assert.Equal(
            new[] { "components", "k", "l1_coefficient", "label", "learning_rate", "max_iterations", "mode", "normalize", "prefix", "seed", "x" },
            Sample.Select(o => o.Name).Order(StringComparer.Ordinal).ToArray());

        Assert.Equal("16", Option("components").DefaultValue);
        Assert.Equal("Number of components.", Option("components").Description);
        Assert.Equal("1000", Option("max_iterations").DefaultValue);
        Assert.Equal("0.001", Option("l1_coefficient").DefaultValue);
        Assert.Equal("0.5", Option("learning_rate").DefaultValue);
        Assert.Equal("true", Option("normalize").DefaultValue);
        Assert.Equal("", Option("label").DefaultValue);
        Assert.Equal("feat", Option("prefix").DefaultValue);
        Assert.Equal("very_slow", Option("mode").DefaultValue);
        Assert.Equal("4", Option("k").DefaultValue);
        Assert.Equal("7", Option("x").DefaultValue);
        Assert.Equal("Renamed on the command line.", Option("x").Description);
        Assert.Equal("", Option("seed").DefaultValue);
        Assert.Equal("", Option("k").Description);

        Assert.Equal("an integer", Option("components").TypeName);
        Assert.Equal("an integer", Option("max_iterations").TypeName);
        Assert.Equal("a number", Option("l1_coefficient").TypeName);
        Assert.Equal("true or false", Option("normalize").TypeName);
        Assert.Equal("a string", Option("label").TypeName);
        Assert.Equal("one of fast|very_slow|top_k", Option("mode").TypeName);
        Assert.Equal("an integer", Option("seed").TypeName);
        Assert.DoesNotContain(Sample, o => o.Name is "derived" or "renamed" or "equality_contract");
    }

    [Fact]
    public void Binding_with_no_values_gives_the_defaults()
    {
        var o = Bind();
        Assert.Equal(new SampleOptions(), o);
    }

    [Fact]
    public void Binds_every_supported_type()
    {
        var o = Bind(("components", "32"), ("max_iterations", "5000000000"), ("l1_coefficient", "1e-4"),
            ("learning_rate", "0.25"), ("normalize", "false"), ("label", "hello world"), ("mode", "top_k"),
            ("k", "-3"), ("x", "9"), ("seed", "42"));
        Assert.Equal(32, o.Components);
        Assert.Equal(5_000_000_000L, o.MaxIterations);
        Assert.Equal(1e-4, o.L1Coefficient);
        Assert.Equal(0.25f, o.LearningRate);
        Assert.False(o.Normalize);
        Assert.Equal("hello world", o.Label);
        Assert.Equal(SampleMode.TopK, o.Mode);
        Assert.Equal(-3, o.K);
        Assert.Equal(9, o.Renamed);
        Assert.Equal(42, o.Seed);
        Assert.Equal("feat", o.Prefix); // untouched default
    }

    [Theory]
    [InlineData("very_slow", SampleMode.VerySlow)]
    [InlineData("VERY_SLOW", SampleMode.VerySlow)]
    [InlineData("Fast", SampleMode.Fast)]
    [InlineData("top_K", SampleMode.TopK)]
    public void Enum_values_bind_by_snake_case_name_case_insensitively(string text, SampleMode expected) =>
        Assert.Equal(expected, Bind(("mode", text)).Mode);

    [Fact]
    public void Enum_value_by_its_csharp_name_or_number_is_refused()
    {
        var e = Assert.Throws<MechanistInputException>(() => Bind(("mode", "VerySlow")));
        Assert.Contains("'mode'", e.Message);
        Assert.Contains("one of fast|very_slow|top_k", e.Message);
        Assert.Throws<MechanistInputException>(() => Bind(("mode", "1")));
    }

    [Fact]
    public void Numbers_use_the_invariant_culture_and_bools_accept_any_case()
    {
        Assert.Equal(0.5, Bind(("l1_coefficient", "0.5")).L1Coefficient);
        Assert.True(Bind(("normalize", "True")).Normalize);
        Assert.Throws<MechanistInputException>(() => Bind(("l1_coefficient", "0,5")));
    }

    [Fact]
    public void Unknown_option_suggests_the_closest_and_lists_valid_options()
    {
        var e = Assert.Throws<MechanistInputException>(() => Bind(("componets", "3")));
        Assert.Contains("'componets'", e.Message);
        Assert.Contains("'test.method'", e.Message);
        Assert.Contains("Did you mean 'components'?", e.Message);
        Assert.Contains("Valid options:", e.Message);
        foreach (var o in Sample) Assert.Contains(o.Name, e.Message);
    }

    [Fact]
    public void Unknown_option_far_from_every_name_gets_no_suggestion()
    {
        var e = Assert.Throws<MechanistInputException>(() => Bind(("zzzzzzzzzzzzzzzzzz", "3")));
        Assert.DoesNotContain("Did you mean", e.Message);
        Assert.Contains("Valid options: ", e.Message);
    }

    [Fact]
    public void Unknown_option_for_a_method_without_options()
    {
        var none = OptionSchema.Describe(typeof(NoOptions));
        Assert.Empty(none);
        var e = Assert.Throws<MechanistInputException>(() =>
            OptionBinder.Bind("plain", typeof(NoOptions), none, new Dictionary<string, string> { ["k"] = "1" }));
        Assert.Contains("takes no options", e.Message);
        Assert.Contains("(none)", e.Message);
        Assert.IsType<NoOptions>(OptionBinder.Bind("plain", typeof(NoOptions), none, new Dictionary<string, string>()));
    }

    [Theory]
    [InlineData("components", "abc", "an integer")]
    [InlineData("components", "1.5", "an integer")]
    [InlineData("components", "99999999999", "an integer")]
    [InlineData("max_iterations", "many", "an integer")]
    [InlineData("l1_coefficient", "small", "a number")]
    [InlineData("l1_coefficient", "NaN", "a number")]
    [InlineData("learning_rate", "Infinity", "a number")]
    [InlineData("learning_rate", "1e39", "a number")]
    [InlineData("normalize", "yes", "true or false")]
    [InlineData("mode", "slow", "one of fast|very_slow|top_k")]
    [InlineData("seed", "", "an integer")]
    public void Wrong_type_names_the_option_and_expected_type(string option, string text, string expected)
    {
        var e = Assert.Throws<MechanistInputException>(() => Bind((option, text)));
        Assert.Contains($"'{option}'", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Contains($"'{text}'", e.Message);
        Assert.Contains("'test.method'", e.Message);
    }

    [Fact]
    public void Validate_errors_surface_in_the_message()
    {
        var schema = OptionSchema.Describe(typeof(ValidatedOptions));
        var ok = (ValidatedOptions)OptionBinder.Bind("v", typeof(ValidatedOptions), schema,
            new Dictionary<string, string> { ["components"] = "2" });
        Assert.Equal(2, ok.Components);

        var e = Assert.Throws<MechanistInputException>(() => OptionBinder.Bind("v", typeof(ValidatedOptions), schema,
            new Dictionary<string, string> { ["components"] = "0", ["sparsity"] = "2" }));
        Assert.Contains("invalid options for method 'v'", e.Message);
        Assert.Contains("components: must be positive", e.Message);
        Assert.Contains("sparsity: must lie in [0, 1]", e.Message);
    }

    [Fact]
    public void Unsupported_property_type_is_refused_by_Describe()
    {
        var e = Assert.Throws<ArgumentException>(() => OptionSchema.Describe(typeof(ListOptions)));
        Assert.Contains("Values", e.Message);
        Assert.Contains(nameof(ListOptions), e.Message);
    }

    [Fact]
    public void Describe_refuses_non_options_and_records_without_a_parameterless_constructor()
    {
        Assert.Throws<ArgumentException>(() => OptionSchema.Describe(typeof(string)));
        Assert.Throws<ArgumentException>(() => OptionSchema.Describe(typeof(MethodOptions)));
        var e = Assert.Throws<ArgumentException>(() => OptionSchema.Describe(typeof(NoDefaultConstructorOptions)));
        Assert.Contains("parameterless", e.Message);
    }

    [Theory]
    [InlineData("kitten", "sitting", 3)]
    [InlineData("ab", "ba", 1)]
    [InlineData("", "", 0)]
    [InlineData("", "abc", 3)]
    [InlineData("abc", "", 3)]
    [InlineData("same", "same", 0)]
    [InlineData("flaw", "lawn", 2)]
    [InlineData("componets", "components", 1)]
    [InlineData("ca", "abc", 3)] // optimal string alignment, not unrestricted Damerau (which gives 2)
    [InlineData("abcd", "acbd", 1)]
    public void Distance_matches_hand_computed_values(string a, string b, int expected)
    {
        Assert.Equal(expected, NameSuggester.Distance(a, b));
        Assert.Equal(expected, NameSuggester.Distance(b, a));
    }

    [Fact]
    public void Closest()
    {
        string[] names = ["components", "max_iterations", "l1_coefficient", "k"];
        Assert.Equal("components", NameSuggester.Closest("componets", names));
        Assert.Equal("components", NameSuggester.Closest("COMPONENTS", names));
        Assert.Equal("max_iterations", NameSuggester.Closest("max_iter", names));
        Assert.Equal("l1_coefficient", NameSuggester.Closest("l1_coeficient", names));
        Assert.Null(NameSuggester.Closest("learning_rate_schedule", names));
        Assert.Null(NameSuggester.Closest("xyzzy", ["alpha", "omega"]));
        Assert.Null(NameSuggester.Closest("anything", []));
    }
}
