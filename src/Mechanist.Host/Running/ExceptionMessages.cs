namespace Mechanist.Host.Running;

/// <summary>
/// Exception messages as users see them: libtorch's errors (<c>ExternalException</c>) carry the native stack in their
/// message, one frame per line after the first; only <c>--verbose</c> shows those.
/// </summary>
public static class ExceptionMessages
{
    /// <summary>The first non-empty line of the message, trimmed (the whole message when it has one line).</summary>
    public static string Brief(Exception e) => Brief(e.Message);

    public static string Brief(string message)
    {
        foreach (var line in message.Split('\n'))
        {
            var trimmed = line.Trim();
            if (trimmed.Length > 0) return trimmed;
        }
        return message.Trim();
    }
}
