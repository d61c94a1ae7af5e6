using Mechanist.Host.Discovery;
using Mechanist.Options;

namespace Mechanist.Testing;

/// <summary>The checks every method passes, whatever its kind: its descriptor and its options.</summary>
internal static class CommonChecks
{
    public static void Descriptor(Failures f, MethodEntry entry)
    {
        f.Check("its descriptor is complete", () =>
        {
            var d = entry.Descriptor;
            var missing = new[] { ("Title", d.Title), ("Summary", d.Summary), ("Reference", d.Reference), ("HelpLink", d.HelpLink) }
                .Where(x => string.IsNullOrWhiteSpace(x.Item2)).Select(x => x.Item1).ToList();
            Failures.That(missing.Count == 0, $"the attribute of {entry.Type.FullName} does not set {string.Join(", ", missing)}");
            Failures.That(HelpPages.Exists(d.HelpLink!, entry), $"its help page '{d.HelpLink}' was found neither beside the plugin nor in a folder above the test ({HelpPages.Searched(entry)})");
        });
        f.Check("its options are documented and named in snake_case", () =>
        {
            foreach (var o in entry.Descriptor.Options)
            {
                Failures.That(!string.IsNullOrWhiteSpace(o.Description), $"option '{o.Name}' has no description ([Option(\"…\")])");
                Failures.That(o.Name.Length > 0 && char.IsAsciiLetterLower(o.Name[0]) && o.Name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'),
                    $"option '{o.Name}' is not snake_case");
            }
        });
    }

    public static void Options(Failures f, MethodEntry entry, IReadOnlyDictionary<string, string> given)
    {
        f.Check("its default options validate and round-trip through their text", () =>
        {
            var defaults = MethodCatalog.BindOptions(entry, new Dictionary<string, string>());
            var asText = entry.Descriptor.Options.ToDictionary(o => o.Name, o => o.DefaultValue);
            var rebound = MethodCatalog.BindOptions(entry, asText);
            Failures.That(Equals(defaults, rebound), $"binding the defaults' text ({string.Join(", ", asText.Select(kv => $"{kv.Key}={kv.Value}"))}) gives {rebound}, not the defaults {defaults}");
        });
        if (given.Count > 0)
            f.Check("the verification's options bind", () => MethodCatalog.BindOptions(entry, given));
        f.Check("an unknown option is refused with the closest valid name", () =>
        {
            var names = entry.Descriptor.Options.Select(o => o.Name).ToList();
            if (names.Count == 0)
            {
                var e = Refused(entry, "some_option");
                Failures.That(e.Contains("takes no options", StringComparison.Ordinal), $"the message does not say the method takes no options: \"{e}\"");
                return;
            }
            var name = names.OrderByDescending(n => n.Length).First();
            var typo = name.Length > 3 ? name[..^1] : name + "s"; // one letter off
            var message = Refused(entry, typo);
            Failures.That(message.Contains($"Did you mean '{name}'?", StringComparison.Ordinal), $"'{typo}' was refused without suggesting '{name}': \"{message}\"");
            Failures.That(message.Contains(entry.Id, StringComparison.Ordinal), $"the message does not name the method '{entry.Id}': \"{message}\"");
        });
    }

    static string Refused(MethodEntry entry, string name)
    {
        try
        {
            MethodCatalog.BindOptions(entry, new Dictionary<string, string> { [name] = "1" });
        }
        catch (MechanistInputException e)
        {
            return e.Message;
        }
        Failures.Fail($"the unknown option '{name}' was accepted");
        return "";
    }
}

/// <summary>Where a method's help page is looked for: beside a plugin's assembly, then in the folders above the test, as reports resolve help links.</summary>
internal static class HelpPages
{
    public static bool Exists(string link, MethodEntry entry) =>
        Uri.TryCreate(link, UriKind.Absolute, out var uri) && !uri.IsFile || Folders(entry).Any(f => File.Exists(Path.Combine(f, link)));

    public static string Searched(MethodEntry entry) => string.Join(", ", Folders(entry).Take(3)) + ", …";

    static IEnumerable<string> Folders(MethodEntry entry)
    {
        if (!entry.IsBuiltIn && Path.IsPathRooted(entry.Source)) yield return Path.GetDirectoryName(entry.Source)!;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent) yield return dir.FullName;
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent) yield return dir.FullName;
    }
}
