using System.Text;

namespace Mechanist;

/// <summary>
/// Bad input from the user: a missing or malformed file, a wrong shape, an unknown option or method.
/// The message is one clear sentence naming the file, key or option and what was expected; the command line
/// prints it and exits with code 2. Control characters in it (a newline inside a key or value quoted from a damaged
/// file) are written as escapes, so the message stays one line.
/// </summary>
public class MechanistInputException(string message, Exception? inner = null) : Exception(OneLine(message), inner)
{
    /// <summary><paramref name="text"/> with every control or line-separator character written as <c>\n</c>, <c>\uXXXX</c>, ….</summary>
    public static string OneLine(string text)
    {
        int first = 0;
        while (first < text.Length && !NeedsEscape(text[first])) first++;
        if (first == text.Length) return text;
        var sb = new StringBuilder(text.Length + 16).Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (!NeedsEscape(c)) sb.Append(c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    static bool NeedsEscape(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';
}
