namespace Mechanist.Testing;

/// <summary>
/// A method failed verification. The message lists every check that failed, each on a line with what was expected and
/// what happened, so a test framework shows the whole story in one failure.
/// </summary>
public sealed class VerificationException(string message) : Exception(message);
