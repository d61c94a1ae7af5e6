using System.CommandLine.Parsing;

namespace Mechanist.Cli.CommandLine;

/// <summary>
/// <c>@FILE</c> on the command line stands for the arguments in FILE: one or more per line, split as a shell would
/// (quotes keep spaces), blank lines and lines starting with <c>#</c> skipped. Long runs (a sweep of options, a
/// release gate's settings) are kept in a file and reused.
/// </summary>
public static class ResponseFiles
{
    /// <summary>The <see cref="TryReplaceToken"/> of the parser: <paramref name="token"/> is the path after the '@'.</summary>
    public static bool TryRead(string token, out IReadOnlyList<string>? replacement, out string? error)
    {
        replacement = null;
        error = null;
        if (token.Length == 0)
        {
            error = "'@' needs a response file name (@FILE: arguments read from FILE).";
            return false;
        }
        if (!File.Exists(token))
        {
            error = $"response file '@{token}': file not found{(Directory.Exists(token) ? " (it is a folder)" : "")}.";
            return false;
        }
        try
        {
            replacement = File.ReadAllLines(token)
                .Select(line => line.Trim())
                .Where(line => line.Length > 0 && !line.StartsWith('#'))
                .SelectMany(CommandLineParser.SplitCommandLine)
                .ToList();
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"response file '@{token}': cannot be read ({e.Message}).";
            return false;
        }
    }
}
