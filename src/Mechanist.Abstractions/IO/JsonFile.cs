using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mechanist.IO;

/// <summary>
/// Strict reading of the small JSON files of the formats (<c>cfg.json</c>, <c>config.json</c>, manifests,
/// checkpoint metadata): bounded in size, one JSON object, no key twice at any depth (System.Text.Json's nodes would
/// otherwise keep one of them or throw later, far from the file). Every error names the file.
/// </summary>
public static class JsonFile
{
    /// <summary>Largest JSON file read whole by default (a model config is kilobytes).</summary>
    public const long MaxBytes = 64L << 20;

    static readonly JsonDocumentOptions Options = new() { AllowDuplicateProperties = false, MaxDepth = 64 };

    /// <summary>
    /// Reads <paramref name="path"/> as a JSON object, refusing a file over <paramref name="maxBytes"/> before reading
    /// it; <paramref name="what"/> describes the file in that error.
    /// </summary>
    public static JsonObject ReadObject(string path, string what = "JSON file", long maxBytes = MaxBytes)
    {
        if (!File.Exists(path)) throw new MechanistInputException($"{path}: file not found.");
        long length = new FileInfo(path).Length;
        if (length > maxBytes)
            throw new MechanistInputException($"{path}: {what} of {length} bytes exceeds the limit of {maxBytes} bytes (corrupt, or not a {what}).");
        return ParseObject(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses UTF-8 <paramref name="utf8"/> as a JSON object; <paramref name="where"/> (the file, and the key if any) prefixes errors.</summary>
    public static JsonObject ParseObject(ReadOnlySpan<byte> utf8, string where)
    {
        var node = Parse(utf8, where);
        return node as JsonObject
            ?? throw new MechanistInputException($"{where}: expected a JSON object, got {(node is null ? "null" : node.GetValueKind().ToString().ToLowerInvariant())}.");
    }

    /// <summary>Parses any JSON value, every object of it checked for duplicate keys.</summary>
    public static JsonNode? Parse(ReadOnlySpan<byte> utf8, string where)
    {
        // System.Text.Json decodes strings lazily and would throw later, far from the file, on invalid UTF-8.
        if (FirstInvalidUtf8(utf8) is var bad and >= 0)
            throw new MechanistInputException($"{where}: not valid UTF-8 (at byte {bad}).");
        try
        {
            var node = JsonNode.Parse(utf8, documentOptions: Options);
            Materialise(node);
            return node;
        }
        catch (JsonException e)
        {
            throw new MechanistInputException($"{where}: not valid JSON ({e.Message}).", e);
        }
        catch (ArgumentException e)
        {
            throw new MechanistInputException($"{where}: a key appears twice ({e.Message}).", e);
        }
    }

    /// <summary>Parses <paramref name="text"/> (e.g. a JSON string stored in safetensors metadata) as a JSON object.</summary>
    public static JsonObject ParseObject(string text, string where) => ParseObject(System.Text.Encoding.UTF8.GetBytes(text), where);

    /// <summary>Offset of the first byte that is not valid UTF-8, or -1.</summary>
    public static int FirstInvalidUtf8(ReadOnlySpan<byte> utf8)
    {
        if (System.Text.Unicode.Utf8.IsValid(utf8)) return -1;
        System.Text.Unicode.Utf8.ToUtf16(utf8, new char[utf8.Length], out int read, out _, replaceInvalidSequences: false);
        return read;
    }

    /// <summary>Touches every object so that a duplicate key anywhere surfaces now.</summary>
    static void Materialise(JsonNode? node)
    {
        var stack = new Stack<JsonNode?>();
        stack.Push(node);
        while (stack.Count > 0)
        {
            switch (stack.Pop())
            {
                case JsonObject o:
                    foreach (var (_, child) in o) stack.Push(child);
                    break;
                case JsonArray a:
                    foreach (var child in a) stack.Push(child);
                    break;
            }
        }
    }
}
