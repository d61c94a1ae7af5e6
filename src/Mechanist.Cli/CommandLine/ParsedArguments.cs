using System.Globalization;
using Mechanist.Options;

namespace Mechanist.Cli.CommandLine;

/// <summary>An option a command accepts.</summary>
public sealed record OptionSpec(string Name, string Help, bool TakesValue = true, bool Repeatable = false, string? ValueName = null);

/// <summary>
/// Parsed <c>--name value</c> / <c>--name=value</c> options and positional arguments of one command, checked against
/// the command's <see cref="OptionSpec"/>s: unknown options suggest the closest valid one.
/// </summary>
public sealed class ParsedArguments
{
    readonly Dictionary<string, List<string>> _values = new();
    readonly string _command;

    public IReadOnlyList<string> Positionals { get; }

    ParsedArguments(string command, List<string> positionals)
    {
        _command = command;
        Positionals = positionals;
    }

    public static ParsedArguments Parse(string command, IReadOnlyList<string> args, IReadOnlyList<OptionSpec> specs)
    {
        var positionals = new List<string>();
        var result = new ParsedArguments(command, positionals);
        for (int i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg == "--")
            {
                positionals.Add(arg);
                continue;
            }
            var name = arg[2..];
            string? inline = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { inline = name[(eq + 1)..]; name = name[..eq]; }
            var spec = specs.FirstOrDefault(s => s.Name == name);
            if (spec is null)
            {
                var closest = NameSuggester.Closest(name, specs.Select(s => s.Name));
                throw new UsageException($"unknown option '--{name}' for '{command}'.{(closest is null ? "" : $" Did you mean '--{closest}'?")} See 'mechanist {command} --help'.");
            }
            string value;
            if (!spec.TakesValue)
            {
                if (inline is not null) throw new UsageException($"option '--{name}' of '{command}' takes no value.");
                value = "true";
            }
            else if (inline is not null) value = inline;
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) value = args[++i];
            else throw new UsageException($"option '--{name}' of '{command}' needs a value ({spec.ValueName ?? "VALUE"}).");
            if (!result._values.TryGetValue(name, out var list)) result._values[name] = list = [];
            if (list.Count > 0 && !spec.Repeatable)
                throw new UsageException($"option '--{name}' of '{command}' is given more than once.");
            list.Add(value);
        }
        return result;
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
