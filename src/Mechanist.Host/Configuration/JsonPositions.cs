using System.Text;
using System.Text.Json;

namespace Mechanist.Host.Configuration;

/// <summary>
/// Line and column (1-based) of every property and array element of a JSON text, keyed by JSON Pointer
/// (<c>/decompositions/resid/method</c>), so that configuration errors and findings point at the line to fix,
/// the way a compiler error does. A property's position is that of its name; an element's is that of its value.
/// </summary>
public sealed class JsonPositions
{
    readonly Dictionary<string, (int Line, int Column)> _positions = new(StringComparer.Ordinal);

    JsonPositions() { }

    /// <summary>Indexes <paramref name="utf8"/>; comments and trailing commas are allowed (as in the config reader).</summary>
    public static JsonPositions Index(ReadOnlySpan<byte> utf8)
    {
        var result = new JsonPositions();
        var lineStarts = new List<int> { 0 };
        for (int i = 0; i < utf8.Length; i++)
            if (utf8[i] == (byte)'\n') lineStarts.Add(i + 1);

        // Tokens come in file order: the column is counted on from the previous token of the same line, so a long
        // line costs its length once, not once per key.
        int lastLine = -1, lastOffset = 0, lastColumn = 1;
        (int, int) PositionOf(long offset, ReadOnlySpan<byte> text)
        {
            int line = lineStarts.BinarySearch((int)offset);
            if (line < 0) line = ~line - 1;
            int from = line == lastLine && offset >= lastOffset ? lastOffset : lineStarts[line];
            int column = (from == lastOffset && line == lastLine ? lastColumn : 1) + Encoding.UTF8.GetCharCount(text.Slice(from, (int)offset - from));
            (lastLine, lastOffset, lastColumn) = (line, (int)offset, column);
            return (line + 1, column);
        }

        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        // Each open container: its pointer, whether it is an array, and the next element index.
        var stack = new Stack<(string Pointer, bool IsArray, int Next)>();
        string? pendingProperty = null;
        try
        {
            while (reader.Read())
            {
                string? valuePointer = null;
                if (reader.TokenType == JsonTokenType.PropertyName)
                {
                    var pointer = stack.Peek().Pointer + "/" + Escape(reader.GetString()!);
                    result._positions.TryAdd(pointer, PositionOf(reader.TokenStartIndex, utf8));
                    pendingProperty = pointer;
                    continue;
                }
                if (reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray)
                {
                    stack.Pop();
                    continue;
                }
                if (pendingProperty is not null)
                {
                    valuePointer = pendingProperty;
                    pendingProperty = null;
                }
                else if (stack.Count > 0 && stack.Peek().IsArray)
                {
                    var (p, a, next) = stack.Pop();
                    stack.Push((p, a, next + 1));
                    valuePointer = p + "/" + next;
                    result._positions.TryAdd(valuePointer, PositionOf(reader.TokenStartIndex, utf8));
                }
                else valuePointer = "";
                if (valuePointer == "") result._positions.TryAdd("", PositionOf(reader.TokenStartIndex, utf8));
                if (reader.TokenType == JsonTokenType.StartObject) stack.Push((valuePointer, false, 0));
                else if (reader.TokenType == JsonTokenType.StartArray) stack.Push((valuePointer, true, 0));
            }
        }
        catch (JsonException)
        {
            // Positions up to the syntax error are kept; the reader of the document reports the error itself.
        }
        return result;
    }

    /// <summary>The position of <paramref name="pointer"/>, else of its nearest indexed parent, else (1, 1).</summary>
    public (int Line, int Column) Of(string pointer)
    {
        for (var p = pointer; ; p = p[..p.LastIndexOf('/')])
        {
            if (_positions.TryGetValue(p, out var position)) return position;
            if (p.Length == 0) return (1, 1);
        }
    }

    public static string Escape(string name) => name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
}
