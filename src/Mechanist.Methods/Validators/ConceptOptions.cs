using Mechanist.Options;

namespace Mechanist.Methods.Validators;

/// <summary>Options every concept validator takes: which concept (class) a claim is about. The labels come with the context (<see cref="Mechanist.Validators.ValidationContext.ConceptLabels"/>: a validation entry's <c>labels</c> file).</summary>
public abstract record ConceptOptions : MethodOptions
{
    [Option("the concept the claim is about (a name in the labels file)")]
    public string Concept { get; init; } = "";

    [Option("the concept's class the claim is about (a class name or index); for probes, all classes")]
    public string Class { get; init; } = "";

    /// <summary>Comma-separated list → items, blanks dropped.</summary>
    public static IReadOnlyList<string> List(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Comma-separated integers; an input error naming the option otherwise.</summary>
    public static IReadOnlyList<int> Ints(string option, string text) =>
        List(text).Select(s => int.TryParse(s, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v) && v >= 0 ? v
            : throw new MechanistInputException($"option '{option}': '{s}' is not a non-negative integer (expected e.g. \"1,2,5\").")).ToList();
}
