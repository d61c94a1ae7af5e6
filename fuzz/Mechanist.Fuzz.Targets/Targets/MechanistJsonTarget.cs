using System.Text;
using Mechanist.Host.Configuration;

namespace Mechanist.Fuzzing.Targets;

/// <summary><c>mechanist.json</c>, the check configuration (strict keys, types, every problem with its line).</summary>
public sealed class MechanistJsonTarget : FuzzTarget
{
    public override string Name => "mechanist-json";

    public override string Summary => "mechanist.json check configurations (CheckConfigReader.Load)";

    public override IReadOnlyList<string> Files => ["mechanist.json"];

    public override void Run(FuzzInput input)
    {
        var config = CheckConfigReader.Load(input.Path);
        Check.That(config.Path == Path.GetFullPath(input.Path), "config path");
        foreach (var path in new[] { config.Model, config.Dataset?.Path }.Concat(config.Plugins.Select(p => p.Value))
                     .Concat(config.Decompositions.SelectMany(d => new[] { d.Activations, d.Folder })))
            Check.That(path is null || Path.IsPathRooted(path), $"path '{path}' not resolved against the config's folder");
        foreach (var rule in config.Checks)
            Check.That(config.Positions.Of(rule.Pointer).Line >= 1, $"no line for {rule.Pointer}");
        _ = config.Settings;
    }

    public override IEnumerable<Seed> Seeds(SeedContext context)
    {
        yield return new("release", [context.Fixture("samples/model-release/mechanist.json")]);
        yield return new("release-failing", [context.Fixture("samples/model-release/mechanist.failing.json")]);
        yield return new("every-section", [Encoding.UTF8.GetBytes("""
            {
              // comments and trailing commas are allowed
              "$schema": "mechanist.schema.json",
              "model": "models/m",
              "dataset": { "path": "data/inputs.safetensors", "tensor": "ids" },
              "plugins": ["../plugins/A"],
              "device": "cuda:1",
              "seed": 3,
              "decompositions": {
                "resid": { "site": "blocks.0.hook_resid_post", "activations": "acts.npy", "method": "pca", "options": { "components": 8, "whiten": true, "name": "x" }, "seed": 5 },
                "loaded": { "activations": "acts.safetensors", "tensor": "resid", "path": "saes/loaded" },
              },
              "behaviours": {
                "answer": { "inputs": { "task": "modular-addition", "options": { "p": 7, "split": "held_out" } }, "metric": "logit", "target": "label", "position": -1 },
              },
              "attributions": [ { "method": "ig", "site": "hook_embed", "behaviour": "answer", "options": { "steps": 16 } } ],
              "validations": [ { "method": "decomposition.quality", "decompositions": ["resid"] } ],
              "checks": { "MECH1001": { "severity": "error", "threshold": 0.9 }, "MECH1003": "none" },
            }
            """)]);
        yield return new("task-dataset", [Encoding.UTF8.GetBytes("""{"dataset": {"task": "modular-addition", "options": {"p": 7}}, "device": "auto"}""")]);
    }

    public override IEnumerable<string> Dictionary =>
    [
        "\"$schema\"", "\"model\"", "\"dataset\"", "\"plugins\"", "\"device\"", "\"seed\"", "\"decompositions\"", "\"attributions\"",
        "\"validations\"", "\"checks\"", "\"behaviours\"", "\"behaviour\"", "\"metric\"", "\"target\"", "\"position\"",
        "\"corrupted\"", "\"inputs\"", "\"label\"", "\"path\"", "\"tensor\"", "\"task\"", "\"options\"", "\"site\"", "\"activations\"",
        "\"method\"", "\"severity\"", "\"threshold\"", "\"none\"", "\"suggestion\"", "\"warning\"", "\"error\"", "\"MECH1001\"",
        "\"cuda:0\"", "\"cpu\"", "\"auto\"", "//", "/*", "*/", "true", "false", "null", "-1", "1e400", "2147483648", "\\u0000", "~1", "~0",
    ];
}
