using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using Json.Schema;
using Mechanist.Host.Configuration;
using Mechanist.Testing;

namespace Mechanist.Host.Tests;

/// <summary>
/// Property: for every document of a generated family (<see cref="ConfigDocuments"/>, made from the schema itself),
/// <c>mechanist.schema.json</c> accepts it exactly when <see cref="CheckConfigReader"/> does. The schema is what
/// editors check a file against; the reader is what runs: they cannot drift apart. The reader's extras that the
/// schema does not say — comments, trailing commas, duplicate keys, invalid UTF-8, and a NUL character in a path
/// (which no file system accepts) — are outside the family.
/// </summary>
public sealed class MechanistJsonSchemaPropertyTests
{
    static readonly string SchemaPath = Path.Combine(Repo.Root, "src", "Mechanist.Host", "Configuration", "mechanist.schema.json");
    static readonly JsonSchema Schema = JsonSchema.FromText(File.ReadAllText(SchemaPath), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
    static readonly ConfigDocuments Family = new((JsonObject)JsonNode.Parse(File.ReadAllText(SchemaPath))!);

    static (bool Schema, bool Reader, string Why) Judge(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var result = Schema.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        string why = "";
        bool reader;
        try
        {
            CheckConfigReader.Parse(Encoding.UTF8.GetBytes(json), "/configs/release/mechanist.json");
            reader = true;
        }
        catch (CheckInputException e)
        {
            reader = false;
            why = string.Join("; ", e.Problems.Select(p => p.Message));
        }
        if (!result.IsValid)
            why = $"schema: {string.Join("; ", Errors(result).Take(5))} | reader: {why}";
        return (result.IsValid, reader, why);
    }

    static IEnumerable<string> Errors(EvaluationResults r) =>
        (r.Errors ?? new Dictionary<string, string>()).Select(kv => $"{r.InstanceLocation} {kv.Key}: {kv.Value}")
            .Concat((r.Details ?? []).SelectMany(Errors));

    [Fact]
    public void The_schema_accepts_a_document_exactly_when_the_reader_does()
    {
        int accepted = 0, rejected = 0;
        var sectionsAccepted = new HashSet<string>();
        Gen.Int.Sample(seed =>
        {
            var json = Family.Document(new Random(seed))?.ToJsonString() ?? "null";
            var (schema, reader, why) = Judge(json);
            Assert.True(schema == reader, $"schema {(schema ? "accepts" : "rejects")} but the reader {(reader ? "accepts" : "rejects")}:\n{json}\n{why}");
            if (reader)
            {
                accepted++;
                if (JsonNode.Parse(json) is JsonObject o) sectionsAccepted.UnionWith(o.Select(p => p.Key));
            }
            else rejected++;
        }, iter: 1500, threads: 1);
        // The family is neither all valid nor all invalid, and every top-level section appears in an accepted document.
        Assert.True(accepted > 150 && rejected > 150, $"accepted {accepted}, rejected {rejected}");
        var sections = ((JsonObject)JsonNode.Parse(File.ReadAllText(SchemaPath))!["properties"]!).Select(p => p.Key);
        Assert.Empty(sections.Except(sectionsAccepted));
    }

    /// <summary>
    /// Every key's reported line and column point at that key in the text (the quoted name starts there), compact or
    /// indented, with non-ASCII text before it on the same line.
    /// </summary>
    [Fact]
    public void Every_key_is_located_at_its_line_and_column()
    {
        var indented = new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var compact = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        Gen.Int.Sample(seed =>
        {
            if (Family.Document(new Random(seed)) is not JsonObject doc) return;
            foreach (var options in new[] { indented, compact })
            {
                var text = doc.ToJsonString(options);
                var lines = text.Split('\n');
                var positions = JsonPositions.Index(Encoding.UTF8.GetBytes(text));
                void Walk(JsonNode? node, string pointer)
                {
                    if (node is not JsonObject o) return;
                    foreach (var (key, child) in o)
                    {
                        var at = pointer + "/" + JsonPositions.Escape(key);
                        var (line, column) = positions.Of(at);
                        var quoted = JsonSerializer.Serialize(key, options);
                        Assert.True(lines[line - 1][(column - 1)..].StartsWith(quoted, StringComparison.Ordinal), $"{at} at ({line},{column}) in\n{text}");
                        Walk(child, at);
                    }
                }
                Walk(doc, "");
            }
        }, iter: 200, threads: 1);
    }

    /// <summary>Hand-picked edges of the same property, named so that a regression says which one.</summary>
    [Theory]
    [InlineData("""{"seed": 2147483648}""")]
    [InlineData("""{"seed": 1.0}""")]
    [InlineData("""{"device": "cuda: 1"}""")]
    [InlineData("""{"device": "cuda:99999999999"}""")]
    [InlineData("""{"$schema": ""}""")]
    [InlineData("""{"checks": {"MECH1001": {"threshold": 1e400}}}""")]
    [InlineData("""{"checks": {"MECH１２３４": "none"}}""")]
    [InlineData("""{"decompositions": {"a": {"path": "x", "seed": 1}}}""")]
    [InlineData("""{"dataset": {"tensor": "t"}}""")]
    [InlineData("""{"device": "cpu\n"}""")]
    [InlineData("""{"checks": {"MECH1001\n": "none"}}""")]
    public void Schema_and_reader_agree_on(string json)
    {
        var (schema, reader, why) = Judge(json);
        Assert.True(schema == reader, $"schema {(schema ? "accepts" : "rejects")} but the reader {(reader ? "accepts" : "rejects")}: {why}");
    }
}
