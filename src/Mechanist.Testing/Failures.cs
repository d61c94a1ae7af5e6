namespace Mechanist.Testing;

/// <summary>The checks of one verification: each is run, and every failure is kept for the one exception at the end.</summary>
internal sealed class Failures(string subject)
{
    readonly List<string> _failed = [];
    int _checks;

    public string Subject { get; } = subject;

    /// <summary>Runs one named check; an exception of the check (or a <see cref="Fail"/> inside it) is one failure.</summary>
    public void Check(string name, Action check)
    {
        _checks++;
        try
        {
            check();
        }
        catch (CheckFailed e)
        {
            _failed.Add($"{name}: {e.Message}");
        }
        catch (Exception e) when (e is not VerificationException)
        {
            _failed.Add($"{name}: {e.GetType().Name}: {FirstLine(e.Message)}");
        }
    }

    public static void Fail(string message) => throw new CheckFailed(message);

    public static void That(bool condition, string message)
    {
        if (!condition) throw new CheckFailed(message);
    }

    /// <summary>Throws <see cref="VerificationException"/> naming every failed check, if any failed.</summary>
    public void ThrowIfAny()
    {
        if (_failed.Count == 0) return;
        throw new VerificationException($"{Subject} failed {_failed.Count} of {_checks} checks:{Environment.NewLine}" +
            string.Join(Environment.NewLine, _failed.Select(f => "  - " + f)));
    }

    static string FirstLine(string message) =>
        message.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? message;

    sealed class CheckFailed(string message) : Exception(message);
}
