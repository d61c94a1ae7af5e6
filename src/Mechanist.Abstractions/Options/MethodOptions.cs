namespace Mechanist.Options;

/// <summary>
/// Base of every method's typed options: a record whose public init properties are the options, with their
/// defaults as initialisers. Names on the command line are the properties' names in snake_case
/// (<c>L1Coefficient</c> → <c>l1_coefficient</c>) unless <see cref="OptionAttribute.Name"/> says otherwise.
/// </summary>
public abstract record MethodOptions
{
    /// <summary>Checks values after binding. Each problem names its option.</summary>
    public virtual IEnumerable<OptionError> Validate() => [];
}

/// <summary>For methods that take no options.</summary>
public sealed record NoOptions : MethodOptions;

/// <summary>Documents an option; optionally renames it.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OptionAttribute(string description) : Attribute
{
    public string Description { get; } = description;
    public string? Name { get; init; }
}

/// <summary>A problem with one option's value.</summary>
public sealed record OptionError(string Option, string Message)
{
    public override string ToString() => $"{Option}: {Message}";
}
