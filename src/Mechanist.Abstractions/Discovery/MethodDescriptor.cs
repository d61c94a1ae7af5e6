using System.Collections.Immutable;
using Mechanist.Options;

namespace Mechanist.Discovery;

/// <summary>Immutable description of a discovered method: its attribute data plus its option schema.</summary>
public sealed record MethodDescriptor(
    string Id,
    MethodKind Kind,
    string Title,
    string Summary,
    string? Reference,
    string? HelpLink,
    Type OptionsType,
    ImmutableArray<OptionDescriptor> Options)
{
    /// <summary>For a validator: the inputs it needs to run (<see cref="ValidatorAttribute.Requires"/>).</summary>
    public Validators.ValidationInputs Requires { get; init; }

    /// <summary>Builds the descriptor of <paramref name="type"/> from its <see cref="MethodAttribute"/>;
    /// throws <see cref="InvalidMethodException"/> naming the type when the declaration is inconsistent.</summary>
    public static MethodDescriptor FromType(Type type)
    {
        var attribute = (MethodAttribute?)Attribute.GetCustomAttribute(type, typeof(MethodAttribute), inherit: false)
            ?? throw new InvalidMethodException(type, "carries no method attribute ([Decomposer(\"id\")], [Validator(\"id\")], …)");
        if (!IsValidId(attribute.Id))
            throw new InvalidMethodException(type, $"ID '{attribute.Id}' is not valid: use lower-case letters, digits, '.', '-' and '_', starting with a letter");
        if (!attribute.BaseType.IsAssignableFrom(type))
            throw new InvalidMethodException(type, $"is marked [{attribute.GetType().Name.Replace("Attribute", "")}(\"{attribute.Id}\")] but does not derive from {attribute.BaseType.FullName}");
        if (type.IsAbstract || type.IsGenericTypeDefinition)
            throw new InvalidMethodException(type, "is abstract or generic; a method must be a concrete class");
        var optionsType = OptionsTypeOf(type);
        return new MethodDescriptor(attribute.Id, attribute.Kind, attribute.Title, attribute.Summary, attribute.Reference,
            attribute.HelpLink, optionsType, OptionSchema.Describe(optionsType))
        {
            Requires = (attribute as ValidatorAttribute)?.Requires ?? Validators.ValidationInputs.None,
        };
    }

    public static bool IsValidId(string id) =>
        id.Length > 0 && char.IsAsciiLetterLower(id[0]) &&
        id.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-' or '_');

    /// <summary>The <c>TOptions</c> of the first generic extension-point base (<c>Decomposer&lt;TOptions&gt;</c>, …), else <see cref="NoOptions"/>.</summary>
    static Type OptionsTypeOf(Type type)
    {
        for (var t = type; t != null; t = t.BaseType)
        {
            if (t.IsGenericType && t.GetGenericArguments() is [var arg] && typeof(MethodOptions).IsAssignableFrom(arg))
                return arg;
        }
        return typeof(NoOptions);
    }
}

/// <summary>A method type whose declaration cannot be used (wrong base, bad ID, bad options).</summary>
public sealed class InvalidMethodException(Type type, string problem)
    : Exception($"{type.FullName}: {problem}.")
{
    public Type MethodType { get; } = type;
}
