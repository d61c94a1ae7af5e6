using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.IO;

namespace Mechanist.Models.Text;

/// <summary>
/// A model folder's <c>vocab.json</c> in Hugging Face's format — a JSON object from token string to id — read so
/// that interpreters and reports print token strings for a model with its own small vocabulary.
/// </summary>
public sealed class TokenVocabulary
{
    public const string FileName = "vocab.json";

    readonly string[] _byId;

    TokenVocabulary(string[] byId) => _byId = byId;

    public int Count => _byId.Length;

    /// <summary>The token string of <paramref name="id"/>, or <c>#id</c> when the vocabulary does not name it.</summary>
    public string Text(long id) => id >= 0 && id < _byId.Length && _byId[id] is { } s ? s : $"#{id}";

    /// <summary>The vocabulary of a model folder, or null when it has no <c>vocab.json</c>. A malformed file is an input error.</summary>
    public static TokenVocabulary? TryRead(string folder)
    {
        var path = Path.Combine(folder, FileName);
        return File.Exists(path) ? Read(path) : null;
    }

    public static TokenVocabulary Read(string path)
    {
        JsonObject obj;
        try
        {
            obj = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new MechanistInputException($"{path}: expected a JSON object from token string to id.");
        }
        catch (JsonException e)
        {
            throw new MechanistInputException($"{path}: not valid JSON ({e.Message}).", e);
        }
        var pairs = new List<(string Token, int Id)>();
        foreach (var (token, node) in obj)
        {
            if (node is not JsonValue v || !v.TryGetValue<int>(out var id) || id < 0)
                throw new MechanistInputException($"{path}: token '{token}' maps to {node?.ToJsonString() ?? "null"}; expected a non-negative integer id.");
            pairs.Add((token, id));
        }
        if (pairs.Count == 0) throw new MechanistInputException($"{path}: the vocabulary is empty.");
        var byId = new string[pairs.Max(p => p.Id) + 1];
        foreach (var (token, id) in pairs)
        {
            if (byId[id] is not null) throw new MechanistInputException($"{path}: id {id} is given to both '{byId[id]}' and '{token}'.");
            byId[id] = token;
        }
        return new TokenVocabulary(byId);
    }

    /// <summary>Writes <paramref name="tokens"/> (token string by id) as <c>vocab.json</c> in <paramref name="folder"/>, atomically.</summary>
    public static void Write(string folder, IReadOnlyList<string> tokens)
    {
        var obj = new JsonObject();
        for (int i = 0; i < tokens.Count; i++) obj[tokens[i]] = i;
        AtomicFile.WriteText(Path.Combine(folder, FileName), obj.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
    }
}
