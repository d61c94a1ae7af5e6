using System.Text.Json.Nodes;

namespace Mechanist.Testing;

/// <summary>Runs a config with one validator and compares what it reported with what was expected (ValidatorVerifier.VerifyFindings).</summary>
internal static class FindingsVerifier
{
    public static void Verify(MethodHost host, string validatorId, string config, string baseDirectory, IReadOnlyList<ExpectedFinding> expected)
    {
        var root = JsonNode.Parse(config, documentOptions: new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
            ?? throw new VerificationException("the config must be a JSON object (a mechanist.json).");
        root.TryAdd("device", "cpu");
        if (!root.ContainsKey("validations")) root["validations"] = new JsonArray(new JsonObject { ["method"] = validatorId });
        var result = CheckRun.Run(host, root.ToJsonString(), baseDirectory);
        var actual = ValidatorConformance.Own(result, validatorId).ToList();
        var others = result.Findings.Where(f => f.Severity == Validators.Severity.Error && !actual.Contains(CheckRun.Shape(f))).Select(CheckRun.Shape).ToList();

        var unmatched = actual.ToList();
        var missing = new List<ExpectedFinding>();
        foreach (var e in expected)
        {
            var match = unmatched.FirstOrDefault(e.Matches);
            if (match is null) missing.Add(e);
            else unmatched.Remove(match);
        }
        if (missing.Count == 0 && unmatched.Count == 0 && others.Count == 0) return;
        var lines = new List<string> { $"validator '{validatorId}' did not report exactly the expected findings:" };
        lines.AddRange(missing.Select(m => $"  - expected, not reported: {m}"));
        lines.AddRange(unmatched.Select(u => $"  - reported, not expected: {u}"));
        lines.AddRange(others.Select(o => $"  - an error of the check itself: {o}"));
        lines.Add($"  reported: {ValidatorConformance.Describe(actual)}");
        throw new VerificationException(string.Join(Environment.NewLine, lines));
    }
}
