using System.Text.Json;
using Json.Schema;
using Mechanist.Testing;

namespace Mechanist.Cli.Tests;

/// <summary>JSON-schema validation (JsonSchema.Net) with format validation on, listing every error.</summary>
static class SchemaValidation
{
    public static string SarifSchemaPath => Path.Combine(AppContext.BaseDirectory, "Sarif", "sarif-schema-2.1.0.json");

    public static string ConfigSchemaPath => Path.Combine(Repo.Root, "src", "Mechanist.Host", "Configuration", "mechanist.schema.json");

    /// <summary>The errors of <paramref name="json"/> against the schema in <paramref name="schemaPath"/>; empty when valid.</summary>
    public static IReadOnlyList<string> Errors(string schemaPath, string json)
    {
        var schema = JsonSchema.FromText(File.ReadAllText(schemaPath), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        using var doc = JsonDocument.Parse(json);
        var result = schema.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        if (result.IsValid) return [];
        var errors = new List<string>();
        void Collect(EvaluationResults r)
        {
            if (r.Errors is not null)
                foreach (var (k, v) in r.Errors) errors.Add($"{r.InstanceLocation} ({r.EvaluationPath}) {k}: {v}");
            if (r.Details is not null) foreach (var d in r.Details) Collect(d);
        }
        Collect(result);
        if (errors.Count == 0) errors.Add("invalid (no error details)");
        return errors;
    }

    public static void AssertValid(string schemaPath, string json)
    {
        var errors = Errors(schemaPath, json);
        Assert.True(errors.Count == 0, $"not valid against {Path.GetFileName(schemaPath)}:\n{string.Join("\n", errors.Take(20))}");
    }
}
