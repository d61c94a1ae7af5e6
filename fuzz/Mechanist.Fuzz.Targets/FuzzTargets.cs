namespace Mechanist.Fuzzing;

/// <summary>Every fuzz target in this assembly, found by type: a new class under Targets/ is a new target.</summary>
public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } = typeof(FuzzTarget).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(FuzzTarget)) && !t.IsAbstract)
        .Select(t => (FuzzTarget)Activator.CreateInstance(t)!)
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .ToList();

    public static FuzzTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new MechanistInputException(
            $"unknown fuzz target '{name}'.{(Options.NameSuggester.Closest(name, All.Select(t => t.Name)) is { } c ? $" Did you mean '{c}'?" : "")} Targets: {string.Join(", ", All.Select(t => t.Name))}.");
}
