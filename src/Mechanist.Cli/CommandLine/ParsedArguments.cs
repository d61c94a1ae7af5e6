using System.Globalization;
using Mechanist.Options;

namespace Mechanist.Cli.CommandLine;

/// <summary>
/// The options and positional arguments of one command as System.CommandLine parsed them, read with the project's
/// messages: a missing required option, a number that is not one, a choice that is not offered — each one line naming
/// the option and what was expected.
/// </summary>
public sealed class ParsedArguments
{
    readonly IReadOnlyDictionary<string, IReadOnlyList<string>> _values;
    readonly string _command;

    public IReadOnlyList<string> Positionals { get; }

    /// <summary>The options as given (flags as "true") and the positional arguments of <paramref name="command"/>.</summary>
    public ParsedArguments(string command, IReadOnlyDictionary<string, IReadOnlyList<string>> values, IReadOnlyList<string> positionals)
    {
        _command = command;
        _values = values;
        Positionals = positionals;
    }

    public bool Has(string name) => _values.ContainsKey(name);

    public string? Get(string name) => _values.TryGetValue(name, out var v) ? v[0] : null;

    public IReadOnlyList<string> GetAll(string name) => _values.TryGetValue(name, out var v) ? v : [];

    public string Require(string name) =>
        Get(name) ?? throw new UsageException($"'{_command}' needs --{name}. See 'mechanist {_command} --help'.");

    public int GetInt(string name, int fallback)
    {
        var text = Get(name);
        if (text is null) return fallback;
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
            : throw new UsageException($"option '--{name}' expects an integer, got '{text}'.");
    }

    /// <summary>An integer of at least 1 (counts, sizes, repeats).</summary>
    public int GetPositiveInt(string name, int fallback)
    {
        int value = GetInt(name, fallback);
        return value >= 1 ? value : throw new UsageException($"option '--{name}' must be at least 1, got {value}.");
    }

    public long GetLong(string name, long fallback)
    {
        var text = Get(name);
        if (text is null) return fallback;
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
            : throw new UsageException($"option '--{name}' expects an integer, got '{text}'.");
    }

    public double GetDouble(string name, double fallback)
    {
        var text = Get(name);
        if (text is null) return fallback;
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v
            : throw new UsageException($"option '--{name}' expects a number, got '{text}'.");
    }

    public string GetChoice(string name, string fallback, params string[] choices)
    {
        var text = Get(name) ?? fallback;
        if (choices.Contains(text)) return text;
        var closest = NameSuggester.Closest(text, choices);
        throw new UsageException($"option '--{name}' expects one of {string.Join("|", choices)}, got '{text}'.{(closest is null ? "" : $" Did you mean '{closest}'?")}");
    }

    /// <summary>
    /// The <c>--set key=value</c> settings for <paramref name="methodId"/>: plain keys, and <c>method.key</c> keys
    /// whose prefix is this method (keys prefixed with another method are left for it).
    /// </summary>
    public IReadOnlyDictionary<string, string> Settings(string methodId, IReadOnlyCollection<string>? allMethods = null)
    {
        var result = new Dictionary<string, string>();
        foreach (var item in GetAll("set"))
        {
            int eq = item.IndexOf('=');
            if (eq <= 0) throw new UsageException($"--set expects key=value, got '{item}'.");
            var key = item[..eq];
            var value = item[(eq + 1)..];
            var prefix = methodId + ".";
            if (key.StartsWith(prefix, StringComparison.Ordinal)) key = key[prefix.Length..];
            else if (allMethods is not null && allMethods.Any(m => key.StartsWith(m + ".", StringComparison.Ordinal))) continue;
            if (!result.TryAdd(key, value))
                throw new UsageException($"--set gives '{key}' more than once for method '{methodId}'.");
        }
        return result;
    }
}

/// <summary>Bad command-line usage (exit code 2).</summary>
public sealed class UsageException(string message) : MechanistInputException(message);
