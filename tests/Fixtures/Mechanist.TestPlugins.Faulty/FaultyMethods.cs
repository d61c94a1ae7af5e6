using System.Collections.Immutable;
using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Options;
using Mechanist.Validators;

namespace Mechanist.TestPlugins.Faulty;

/// <summary>Throws from Fit: the host must report MECH0001 and write nothing.</summary>
[Decomposer("test.throws", Title = "Throws on fit", Summary = "Test fixture: Fit always throws InvalidOperationException.")]
public sealed class ThrowingDecomposer : Decomposer<ThrowingOptions>
{
    protected override Decomposition Fit(DecomposeContext context, ThrowingOptions options) =>
        throw new InvalidOperationException("planted failure in Fit");
}

public sealed record ThrowingOptions : MethodOptions
{
    [Option("Unused.")] public int Steps { get; init; } = 1;
}

/// <summary>Claims the built-in PCA's ID: the host must keep the built-in and report MECH0004.</summary>
[Decomposer("pca", Title = "Impostor PCA", Summary = "Test fixture: duplicates the built-in ID.")]
public sealed class DuplicatePca : Decomposer
{
    public override Decomposition Fit(DecomposeContext context) => throw new InvalidOperationException("must never run");
}

/// <summary>Throws from Validate after reporting nothing: MECH0001, and the run goes on.</summary>
[Validator("test.throwing-validator", Title = "Throws on validate", Summary = "Test fixture: Validate always throws.")]
public sealed class ThrowingValidator : Validator
{
    static readonly CheckDescriptor Never = new("MECH9001", "Never reported", "never", "Test", Severity.Warning, "docs/checks/MECH9001.md");

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [Never];

    public override void Validate(ValidationContext context) => throw new InvalidOperationException("planted failure in Validate");
}

/// <summary>Marked as a decomposer but is not one: a load finding names this type.</summary>
[Decomposer("test.wrong-base", Title = "Wrong base", Summary = "Test fixture: not a Decomposer.")]
public sealed class WrongBase
{
}
