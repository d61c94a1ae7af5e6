using System.Collections.Immutable;
using System.Globalization;
using System.Reflection;
using System.Text;

namespace Mechanist.Options;

/// <summary>One option of a method: its name, value type, default and description.</summary>
public sealed record OptionDescriptor(string Name, Type ValueType, string DefaultValue, string Description, PropertyInfo Property)
{
    /// <summary>A short name of the value type for help and errors (<c>integer</c>, <c>number</c>, <c>one of a|b</c>).</summary>
    public string TypeName => OptionSchema.DescribeType(ValueType);
}

public static class OptionSchema
{
    static readonly Type[] Supported = [typeof(int), typeof(long), typeof(float), typeof(double), typeof(bool), typeof(string)];

    /// <summary>Describes the options of <paramref name="optionsType"/>; throws when a property has a type options cannot carry.</summary>
    public static ImmutableArray<OptionDescriptor> Describe(Type optionsType)
    {
        if (!typeof(MethodOptions).IsAssignableFrom(optionsType) || optionsType.IsAbstract)
            throw new ArgumentException($"{optionsType.FullName} is not a concrete MethodOptions record.");
        if (optionsType.GetConstructor(Type.EmptyTypes) is null)
            throw new ArgumentException($"{optionsType.FullName} needs a public parameterless constructor (defaults as property initialisers).");
        var defaults = (MethodOptions)Activator.CreateInstance(optionsType)!;
        var result = ImmutableArray.CreateBuilder<OptionDescriptor>();
        foreach (var p in optionsType.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.SetMethod is null || !p.SetMethod.IsPublic || p.Name == "EqualityContract") continue;
            var valueType = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
            if (!Supported.Contains(valueType) && !valueType.IsEnum)
                throw new ArgumentException($"{optionsType.FullName}.{p.Name}: options carry int, long, float, double, bool, string or enum values, not {p.PropertyType.Name}.");
            var attribute = p.GetCustomAttribute<OptionAttribute>();
            result.Add(new OptionDescriptor(attribute?.Name ?? ToSnakeCase(p.Name), p.PropertyType,
                FormatValue(p.GetValue(defaults)), attribute?.Description ?? "", p));
        }
        return result.ToImmutable();
    }

    public static string ToSnakeCase(string name)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool boundary = i > 0 && char.IsUpper(c) &&
                (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1])));
            if (boundary) sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    public static string FormatValue(object? value) => value switch
    {
        null => "",
        bool b => b ? "true" : "false",
        Enum e => ToSnakeCase(e.ToString()),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    public static string DescribeType(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t.IsEnum) return "one of " + string.Join("|", Enum.GetNames(t).Select(ToSnakeCase));
        if (t == typeof(int) || t == typeof(long)) return "an integer";
        if (t == typeof(float) || t == typeof(double)) return "a number";
        if (t == typeof(bool)) return "true or false";
        return "a string";
    }
}
