namespace Mechanist.Validators;

/// <summary>Where a finding applies: a model or config file, a hook site, a feature index, a method.</summary>
public sealed record FindingLocation(string? Path = null, string? Site = null, int? Feature = null, string? Method = null)
{
    public static readonly FindingLocation None = new();

    public override string ToString()
    {
        var parts = new List<string>();
        if (Path is not null) parts.Add(Path);
        if (Site is not null) parts.Add($"site {Site}");
        if (Feature is not null) parts.Add($"feature {Feature}");
        if (Method is not null) parts.Add($"method {Method}");
        return string.Join(", ", parts);
    }
}

/// <summary>One reported result of a check, like Roslyn's Diagnostic.</summary>
public sealed record Finding(
    CheckDescriptor Descriptor,
    Severity Severity,
    FindingLocation Location,
    string Message,
    double? Value = null,
    double? Threshold = null)
{
    public string Id => Descriptor.Id;

    /// <summary>Creates a finding from its descriptor, at the descriptor's default severity unless given.</summary>
    public static Finding Create(CheckDescriptor descriptor, FindingLocation location, object?[] messageArgs,
        double? value = null, double? threshold = null, Severity? severity = null) =>
        new(descriptor, severity ?? descriptor.DefaultSeverity, location, descriptor.FormatMessage(messageArgs), value, threshold);

    public override string ToString() =>
        $"{Severity.ToString().ToLowerInvariant()} {Id}: {Message}{(Location == FindingLocation.None ? "" : $" [{Location}]")}";
}
