using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Mechanist.Host;
using Mechanist.Sweeps.Planning;
using Mechanist.Testing;

namespace Mechanist.Sweeps.Tests;

/// <summary>Reading sweep files, expanding the grid, and job identities (content hashes).</summary>
[Collection(SweepCollection.Name)]
public sealed class SweepFileTests : IDisposable
{
    readonly TempDir _temp = new();
    readonly MechanistHost _host = MechanistHost.Create([]);

    public void Dispose()
    {
        _host.Dispose();
        _temp.Dispose();
    }

    static string SampleSweep => Path.Combine(Repo.Root, "samples", "sweep", "sweep.json");

    static string SchemaPath => Path.Combine(Repo.Root, "src", "Mechanist.Sweeps", "sweep.schema.json");

    IReadOnlyList<JobSpec> Plan(string file, string? activations = null)
    {
        var sweep = SweepFile.Read(file);
        return SweepPlanner.Plan(sweep, _host.Catalog, activations ?? sweep.Activations!, _temp.File("out"), "cpu", new InputHashes());
    }

    string Write(JsonObject sweep) => SweepFiles.Write(_temp.Path, $"s{Guid.NewGuid():N}.json", sweep);

    static JsonObject Minimal(JsonNode? methods = null) => new()
    {
        ["activations"] = SweepFiles.Data,
        ["methods"] = methods ?? new JsonObject { ["sae.topk"] = new JsonObject { ["k"] = new JsonArray(2, 4) } },
        ["options"] = new JsonObject { ["steps"] = 50 },
    };

    [Fact]
    public void The_sample_expands_methods_times_options_into_labelled_jobs_with_stable_identities()
    {
        var jobs = Plan(SampleSweep);
        Assert.Equal(7, jobs.Count); // topk 2 x 2, relu 1, pca 2
        Assert.Equal(
            ["sae.topk d_sae=64 k=4", "sae.topk d_sae=128 k=4", "sae.topk d_sae=64 k=8", "sae.topk d_sae=128 k=8", "sae.relu", "pca components=16", "pca components=32"],
            jobs.Select(j => j.Label));
        Assert.All(jobs, j => Assert.Matches("^[0-9a-f]{64}$", j.Id));
        Assert.All(jobs, j => Assert.Equal($"{j.Method}-{j.Id[..12]}", j.Folder));
        Assert.Equal("300", jobs[0].Settings["steps"]); // the common option reaches every method that has it
        Assert.False(jobs.Single(j => j.Label == "pca components=16").Settings.ContainsKey("steps")); // pca has no steps
        Assert.Equal(jobs.Select(j => j.Id), Plan(SampleSweep).Select(j => j.Id));
    }

    [Fact]
    public void Identity_follows_the_data_options_and_seed_but_not_checkpoints_or_spelt_out_defaults()
    {
        string Id(JsonObject sweep, string? data = null) => Plan(Write(sweep), data).Single().Id;
        JsonObject One(Action<JsonObject>? change = null)
        {
            var s = Minimal(new JsonObject { ["sae.topk"] = new JsonObject { ["k"] = 4 } });
            change?.Invoke(s);
            return s;
        }
        var baseline = Id(One());
        Assert.Equal(baseline, Id(One(s => s["checkpoint_every"] = 7)));
        Assert.Equal(baseline, Id(One(s => s["methods"]!["sae.topk"]!["lr"] = 0.001))); // the default, spelt out
        Assert.NotEqual(baseline, Id(One(s => s["methods"]!["sae.topk"]!["lr"] = 0.002)));
        Assert.NotEqual(baseline, Id(One(s => s["seeds"] = new JsonArray(1))));
        Assert.NotEqual(baseline, Id(One(s => s["ground_truth"] = SweepFiles.Data)));
        var copy = _temp.File("copy.safetensors");
        File.Copy(SweepFiles.Data, copy);
        Assert.Equal(baseline, Id(One(), copy)); // content, not path
        var bytes = File.ReadAllBytes(copy);
        bytes[^1] ^= 1;
        File.WriteAllBytes(copy, bytes);
        Assert.NotEqual(baseline, Id(One(), copy));
    }

    [Fact]
    public void Grid_sites_seeds_and_explicit_jobs_combine_and_a_repeated_job_runs_once()
    {
        var sweep = Minimal();
        sweep["seeds"] = new JsonArray(0, 1, 2);
        sweep["jobs"] = new JsonArray(
            new JsonObject { ["method"] = "sae.topk", ["options"] = new JsonObject { ["k"] = 2, ["steps"] = 50 }, ["seed"] = 1 }, // already in the grid
            new JsonObject { ["method"] = "pca", ["options"] = new JsonObject { ["components"] = 8 } });
        var jobs = Plan(Write(sweep));
        Assert.Equal(2 * 3 + 1, jobs.Count);
        Assert.Contains(jobs, j => j.Label == "sae.topk k=2 seed=1");
        Assert.Contains(jobs, j => j.Label == "pca seed=0");
    }

    public static TheoryData<string, string> BadSweeps => new()
    {
        { """{"activations": "x.safetensors", "method": {"pca": {}}}""", "'method' is not a sweep key; did you mean 'methods'?" },
        { """{"methods": {"pca": {}}}""", "needs exactly one of 'activations' (a file or store folder) or 'harvest'" },
        { """{"activations": "DATA", "harvest": {"model": "m", "text": "t", "sites": ["a"]}, "methods": {"pca": {}}}""", "needs exactly one of 'activations'" },
        { """{"activations": "DATA"}""", "names no job: give 'methods' (a grid) or 'jobs' (a list)" },
        { """{"activations": "DATA", "methods": {"sae.topk": {"k": []}}}""", "'methods.sae.topk.k' is an empty list" },
        { """{"activations": "DATA", "methods": {"sae.topk": {"k": [4, 4]}}}""", "'methods.sae.topk.k' lists a value more than once" },
        { """{"activations": "DATA", "methods": {"sae.topk": {"k": {"a": 1}}}}""", "'methods.sae.topk.k' expected a string, number or boolean" },
        { """{"activations": "DATA", "methods": {"sae.topkk": {}}}""", "'methods.sae.topkk': MECH0003" },
        { """{"activations": "DATA", "methods": {"sae.topk": {"k": -1}}}""", "'methods.sae.topk':" },
        { """{"activations": "DATA", "methods": {"sae.topk": {"kk": 2}}}""", "'methods.sae.topk':" },
        { """{"activations": "DATA", "methods": {"pca": {}}, "options": {"stepz": 10}}""", "'options.stepz' is an option of none of the methods" },
        { """{"activations": "DATA", "methods": {"pca": {}}, "seeds": [1, 1]}""", "'seeds' lists a seed more than once" },
        { """{"activations": "DATA", "methods": {"pca": {}}, "seeds": [-1]}""", "'seeds[0]' expected an integer of at least 0" },
        { """{"activations": "DATA", "methods": {"pca": {}}, "device": "gpu"}""", "'device' expected auto, cpu, cuda or cuda:N" },
        { """{"activations": "DATA", "methods": {"pca": {}}, "cluster": "http://host:6379"}""", "'cluster': expected redis://HOST:PORT" },
        { """{"activations": "DATA", "jobs": [{"options": {}}]}""", "'jobs[0].method' is required" },
        { """{"activations": "DATA", "sites": ["a", "b"], "jobs": [{"method": "pca"}]}""", "'jobs[0].site' is required when the sweep has several sites" },
        { """{"activations": "DATA", "methods": {"pca": {}}, """, "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(BadSweeps))]
    public void A_bad_sweep_file_is_one_input_error_naming_the_key(string text, string expected)
    {
        var path = _temp.File($"bad{Guid.NewGuid():N}.json");
        File.WriteAllText(path, text.Replace("DATA", SweepFiles.Data.Replace("\\", "\\\\")));
        var e = Assert.ThrowsAny<MechanistInputException>(() =>
        {
            var sweep = SweepFile.Read(path);
            SweepPlanner.Expand(sweep, _host.Catalog);
        });
        Assert.StartsWith(path, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void The_schema_accepts_the_sample_and_a_full_file_and_rejects_what_the_reader_rejects()
    {
        var schema = JsonSchema.FromText(File.ReadAllText(SchemaPath), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        bool Valid(string json)
        {
            using var doc = JsonDocument.Parse(json);
            return schema.Evaluate(doc.RootElement).IsValid;
        }
        Assert.True(Valid(File.ReadAllText(SampleSweep)));
        var full = """
            {"name": "n", "harvest": {"model": "m", "tokens": "t.jsonl", "sites": ["a", "b"], "batch_size": 4, "context": 16},
             "sites": ["a"], "targets": "t", "ground_truth": "g", "methods": {"sae.topk": {"k": [2, 4], "sparse_decode": true}},
             "options": {"steps": 10, "lr": 0.001}, "seeds": [0, 1], "jobs": [{"method": "pca", "options": {"components": 4}, "site": "a", "seed": 2}],
             "device": "cuda:1", "checkpoint_every": 0, "plugins": ["p"], "out": "o", "cluster": "redis://h:6379/1"}
            """;
        Assert.True(Valid(full));
        foreach (var (bad, _) in BadSweeps.Select(row => ((string)row[0], (string)row[1])).Where(r => !r.Item2.Contains("not valid JSON")
                     && !r.Item2.Contains("MECH0003") && !r.Item2.Contains("'methods.sae.topk':") && !r.Item2.Contains("option of none")
                     && !r.Item2.Contains("'jobs[0].site'")))
            Assert.False(Valid(bad.Replace("DATA", "d")), bad);
    }
}
