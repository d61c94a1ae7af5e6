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
    static readonly CheckDescriptor Never = new("TEST9001", "Never reported", "never", "Test", Severity.Warning, "docs/checks/TEST9001.md");

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [Never];

    public override void Validate(ValidationContext context) => throw new InvalidOperationException("planted failure in Validate");
}

/// <summary>Marked as a decomposer but is not one: a load finding names this type.</summary>
[Decomposer("test.wrong-base", Title = "Wrong base", Summary = "Test fixture: not a Decomposer.")]
public sealed class WrongBase
{
}

/// <summary>
/// Hangs without ever looking at its cancellation token (a deadlock, a native call that never returns): the host must
/// report MECH0005 within the budget and end the check cleanly, report written.
/// </summary>
[Validator("test.hangs", Title = "Hangs", Summary = "Test fixture: Validate blocks forever and ignores cancellation.")]
public sealed class HangingValidator : Validator
{
    static readonly CheckDescriptor Never = new("TEST9002", "Never reported", "never", "Test", Severity.Warning, "docs/checks/TEST9002.md");

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [Never];

    public override void Validate(ValidationContext context) => Thread.Sleep(Timeout.Infinite);
}

/// <summary>Takes too long but stops when asked (its token): MECH0005, and the run goes on with the other methods.</summary>
[Validator("test.slow", Title = "Slow", Summary = "Test fixture: Validate waits until cancelled.")]
public sealed class SlowValidator : Validator
{
    static readonly CheckDescriptor Never = new("TEST9003", "Never reported", "never", "Test", Severity.Warning, "docs/checks/TEST9003.md");

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [Never];

    public override void Validate(ValidationContext context)
    {
        context.CancellationToken.WaitHandle.WaitOne(TimeSpan.FromMinutes(10));
        context.CancellationToken.ThrowIfCancellationRequested();
    }
}

/// <summary>
/// Prints to standard output in every way a plugin can (Console.Out, the raw stream, the C library), then reports one
/// finding: <c>--format json|sarif</c> on standard output must stay valid.
/// </summary>
[Validator("test.chatty", Title = "Chatty", Summary = "Test fixture: writes to standard output, then reports TEST9004.")]
public sealed class ChattyValidator : Validator
{
    static readonly CheckDescriptor Said = new("TEST9004", "Said something", "printed to standard output {0} ways", "Test", Severity.Warning, "docs/checks/TEST9004.md");

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [Said];

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "write")]
    static extern nint Write(int fd, byte[] buffer, nint count);

    public override void Validate(ValidationContext context)
    {
        Console.WriteLine("chatty plugin: Console.WriteLine {");
        Console.Out.Flush();
        using (var raw = Console.OpenStandardOutput())
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes("chatty plugin: raw standard output ]\n");
            raw.Write(bytes);
        }
        int ways = 2;
        if (!OperatingSystem.IsWindows())
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes("chatty plugin: write(1) \"\n");
            Write(1, bytes, bytes.Length);
            ways++;
        }
        context.Report(Said, [ways]);
    }
}

/// <summary>Declares a check ID the sample plugin declares too (MODA4001): with both loaded, MECH0004.</summary>
[Validator("test.duplicate-check", Title = "Duplicate check ID", Summary = "Test fixture: declares MODA4001, the sample plugin's check.")]
public sealed class DuplicateCheckValidator : Validator
{
    static readonly CheckDescriptor Twice = new("MODA4001", "Declared twice", "never", "Test", Severity.Warning, "docs/checks/MODA4001.md");

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [Twice];

    public override void Validate(ValidationContext context) { }
}

/// <summary>Declares a check with Mechanist's own prefix: a plugin may not (MECH0002), and the validator is not used.</summary>
[Validator("test.borrowed-prefix", Title = "Borrowed prefix", Summary = "Test fixture: declares MECH4999.")]
public sealed class BorrowedPrefixValidator : Validator
{
    static readonly CheckDescriptor Borrowed = new("MECH4999", "Borrowed", "never", "Test", Severity.Warning, "docs/checks/MECH4999.md");

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [Borrowed];

    public override void Validate(ValidationContext context) { }
}
