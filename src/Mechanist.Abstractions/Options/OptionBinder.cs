using System.Collections.Immutable;
using System.Globalization;

namespace Mechanist.Options;

/// <summary>Turns <c>key=value</c> strings into a method's typed options, with errors that name the option.</summary>
public static class OptionBinder
{
    /// <summary>
    /// Creates the options record with its defaults, applies <paramref name="values"/>, then runs its validation.
    /// Throws <see cref="MechanistInputException"/> for an unknown name (suggesting the closest valid one), a value
    /// of the wrong type, or a failed validation.
    /// </summary>
    public static MethodOptions Bind(string methodId, Type optionsType, ImmutableArray<OptionDescriptor> options,
        IReadOnlyDictionary<string, string> values)
    {
        var result = (MethodOptions)Activator.CreateInstance(optionsType)!;
        foreach (var (key, text) in values)
        {
            var option = options.FirstOrDefault(o => o.Name == key);
            if (option is null)
            {
                var names = options.Select(o => o.Name).ToList();
                var closest = NameSuggester.Closest(key, names);
                var hint = closest is not null ? $" Did you mean '{closest}'?" :
                    names.Count == 0 ? " It takes no options." : "";
                throw new MechanistInputException(
                    $"unknown option '{key}' for method '{methodId}'.{hint} Valid options: {(names.Count == 0 ? "(none)" : string.Join(", ", names))}.");
            }
            option.Property.SetValue(result, Parse(methodId, option, text));
        }
        var errors = result.Validate().ToList();
        if (errors.Count > 0)
            throw new MechanistInputException($"invalid options for method '{methodId}': {string.Join("; ", errors)}.");
        return result;
    }

    static object? Parse(string methodId, OptionDescriptor option, string text)
    {
        var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        var inv = CultureInfo.InvariantCulture;
        object? value = null;
        bool ok;
        if (type == typeof(string)) { value = text; ok = true; }
        else if (type == typeof(int)) { ok = int.TryParse(text, NumberStyles.Integer, inv, out var v); value = v; }
        else if (type == typeof(long)) { ok = long.TryParse(text, NumberStyles.Integer, inv, out var v); value = v; }
        else if (type == typeof(float)) { ok = float.TryParse(text, NumberStyles.Float, inv, out var v) && float.IsFinite(v); value = v; }
        else if (type == typeof(double)) { ok = double.TryParse(text, NumberStyles.Float, inv, out var v) && double.IsFinite(v); value = v; }
        else if (type == typeof(bool)) { ok = bool.TryParse(text, out var v); value = v; }
        else if (type.IsEnum)
        {
            var match = Enum.GetValues(type).Cast<object>()
                .FirstOrDefault(e => string.Equals(OptionSchema.ToSnakeCase(e.ToString()!), text, StringComparison.OrdinalIgnoreCase));
            ok = match is not null;
            value = match;
        }
        else ok = false;
        if (!ok)
            throw new MechanistInputException(
                $"option '{option.Name}' of method '{methodId}' expects {option.TypeName}, got '{text}'.");
        return value;
    }
}
