using Mechanist.Validators;

namespace Mechanist.Testing;

/// <summary>
/// A finding a validator verifier expects, like Roslyn's DiagnosticResult: a check ID and, where it matters, where the
/// finding is (the decomposition of <c>mechanist.json</c>, the hook site, the feature), its severity and part of its
/// message. A location left out matches any.
/// </summary>
public sealed record ExpectedFinding(string Id)
{
    public string? Decomposition { get; init; }
    public string? Site { get; init; }
    public int? Feature { get; init; }
    public Severity? Severity { get; init; }
    public string? MessageContains { get; init; }

    /// <summary>A finding of check <paramref name="id"/>.</summary>
    public static ExpectedFinding Check(string id) => new(id);

    /// <summary>Where the finding is: the decomposition's name, the hook site, the feature index.</summary>
    public ExpectedFinding At(string? decomposition = null, string? site = null, int? feature = null) =>
        this with { Decomposition = decomposition ?? Decomposition, Site = site ?? Site, Feature = feature ?? Feature };

    public ExpectedFinding WithSeverity(Severity severity) => this with { Severity = severity };

    public ExpectedFinding WithMessage(string contains) => this with { MessageContains = contains };

    internal bool Matches(ReportedLike f) =>
        f.Id == Id && (Decomposition is null || f.Decomposition == Decomposition) && (Site is null || f.Site == Site)
        && (Feature is null || f.Feature == Feature) && (Severity is null || f.Severity == Severity)
        && (MessageContains is null || f.Message.Contains(MessageContains, StringComparison.Ordinal));

    public override string ToString() =>
        $"{Id}{(Severity is null ? "" : $" ({Severity.Value.ToString().ToLowerInvariant()})")} at " +
        $"[{string.Join(", ", new[] { Decomposition is null ? null : $"decomposition '{Decomposition}'", Site is null ? null : $"site {Site}", Feature is null ? null : $"feature {Feature}" }.Where(x => x is not null).DefaultIfEmpty("anywhere"))}]" +
        (MessageContains is null ? "" : $" with \"{MessageContains}\"");
}

/// <summary>What a reported finding is compared on.</summary>
internal sealed record ReportedLike(string Id, string? Decomposition, string? Site, int? Feature, Severity Severity, string Message)
{
    public override string ToString() =>
        $"{Id} ({Severity.ToString().ToLowerInvariant()}) at [{string.Join(", ", new[] { Decomposition is null ? null : $"decomposition '{Decomposition}'", Site is null ? null : $"site {Site}", Feature is null ? null : $"feature {Feature}" }.Where(x => x is not null).DefaultIfEmpty("-"))}]: {Message}";
}
