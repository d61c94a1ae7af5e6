using Mechanist.Host.Checks;
using Mechanist.Options;
using Mechanist.Validators;
using Microsoft.Extensions.DependencyInjection;

namespace Mechanist.Host.Discovery;

/// <summary>Every method the host can see, resolvable by ID, plus the findings of loading them.</summary>
public sealed class MethodCatalog(IReadOnlyList<MethodEntry> entries, IReadOnlyList<Finding> loadFindings)
{
    public IReadOnlyList<MethodEntry> Entries { get; } = entries;

    /// <summary>Findings of discovery: plugins that failed to load (MECH0002), duplicate IDs (MECH0004).</summary>
    public IReadOnlyList<Finding> LoadFindings { get; } = loadFindings;

    public IEnumerable<MethodEntry> OfKind(MethodKind kind) => Entries.Where(e => e.Kind == kind);

    /// <summary>The method of kind <paramref name="kind"/> with ID <paramref name="id"/>; an input error naming the closest ID otherwise.</summary>
    public MethodEntry Resolve(string id, MethodKind kind)
    {
        var entry = Entries.FirstOrDefault(e => e.Id == id && e.Kind == kind);
        if (entry is not null) return entry;
        var other = Entries.FirstOrDefault(e => e.Id == id);
        if (other is not null)
            throw new MechanistInputException($"method '{id}' is a {other.Kind.ToName()}, not a {kind.ToName()}.");
        var ids = OfKind(kind).Select(e => e.Id).ToList();
        var closest = NameSuggester.Closest(id, ids);
        var finding = Finding.Create(InfrastructureChecks.UnknownMethodOrCheck, FindingLocation.None,
            [kind.ToName(), id, closest is null ? "" : $"; did you mean '{closest}'?"]);
        throw new MechanistInputException(
            $"{finding.Id}: {finding.Message}{(finding.Message.EndsWith('?') ? "" : ".")} Known {kind.ToName()}s: {(ids.Count == 0 ? "(none)" : string.Join(", ", ids))}.{FailedPluginsHint()}");
    }

    string FailedPluginsHint() =>
        LoadFindings.Any(f => f.Id == InfrastructureChecks.PluginLoadFailed.Id)
            ? " Some plugins failed to load (run 'mechanist plugins list' to see why)." : "";

    /// <summary>Binds <c>key=value</c> settings to the method's typed options (errors name the option).</summary>
    public static MethodOptions BindOptions(MethodEntry entry, IReadOnlyDictionary<string, string> settings) =>
        OptionBinder.Bind(entry.Id, entry.Descriptor.OptionsType, entry.Descriptor.Options, settings);

    /// <summary>Constructs the method through DI; constructor failures become <see cref="MethodFailedException"/> (MECH0001).</summary>
    public static TMethod Create<TMethod>(MethodEntry entry, IServiceProvider services) where TMethod : class
    {
        try
        {
            return (TMethod)ActivatorUtilities.CreateInstance(services, entry.Type);
        }
        catch (Exception e)
        {
            throw new MethodFailedException(entry, e is System.Reflection.TargetInvocationException { InnerException: { } inner } ? inner : e);
        }
    }
}

/// <summary>A method threw: carries the MECH0001 finding (the first line of the inner message; native frames need --verbose).</summary>
public sealed class MethodFailedException(MethodEntry entry, Exception inner)
    : Exception($"{entry.Kind.ToName()} '{entry.Id}' threw {inner.GetType().Name}: {Running.ExceptionMessages.Brief(inner)}", inner)
{
    public MethodEntry Entry { get; } = entry;

    public Finding ToFinding() => Finding.Create(InfrastructureChecks.MethodThrew,
        new FindingLocation(Path: Entry.Source, Method: Entry.Id),
        [Entry.Kind.ToName(), Entry.Id, InnerException!.GetType().Name, Running.ExceptionMessages.Brief(InnerException)]);
}
