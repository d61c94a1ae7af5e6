using System.Text.Json.Nodes;
using Mechanist.Validators;

namespace Mechanist.Testing;

/// <summary>
/// The default subject of a verification, as a <c>mechanist.json</c>: <see cref="TinyModel"/>, model inputs (its task),
/// a decomposition <c>tiny</c> trained with PCA on the MLP activations harvested from it (so with their token ids), and a
/// behaviour <c>answer</c> — the logit of the right answer on held-out pairs, with corrupted inputs (the second operand
/// resampled). Every input a validator can require.
/// </summary>
internal static class Subject
{
    public const string Decomposition = "tiny";
    public const string Behaviour = "answer";

    static JsonObject Base() => new()
    {
        ["model"] = CheckRun.ModelPlaceholder,
        ["device"] = "cpu",
        ["seed"] = 0,
        ["dataset"] = new JsonObject { ["task"] = "modular-addition", ["options"] = new JsonObject { ["samples"] = DatasetSamples } },
        ["decompositions"] = new JsonObject
        {
            [Decomposition] = new JsonObject { ["site"] = TinyModel.MlpSite, ["method"] = "pca", ["options"] = new JsonObject { ["components"] = 6 } },
        },
        ["behaviours"] = new JsonObject
        {
            [Behaviour] = new JsonObject
            {
                ["inputs"] = new JsonObject { ["task"] = "modular-addition", ["options"] = new JsonObject { ["split"] = "held_out", ["samples"] = 24 } },
                ["corrupted"] = new JsonObject { ["rule"] = "resample", ["position"] = 1 },
                ["metric"] = "logit",
                ["target"] = "label",
            },
        },
    };

    /// <summary>One validation entry of <paramref name="validatorId"/>, given what it and its checks require.</summary>
    public static string ForValidator(string validatorId, ValidationInputs requires, IReadOnlyDictionary<string, string> options, IReadOnlyCollection<string> optionNames)
    {
        var root = Base();
        var entry = new JsonObject { ["method"] = validatorId, ["options"] = Options(options) };
        if ((requires & (ValidationInputs.Decomposition | ValidationInputs.Activations | ValidationInputs.Tokens)) == 0)
        {
            entry["decompositions"] = new JsonArray();
            entry["site"] = "hook_embed";
        }
        else entry["decompositions"] = new JsonArray(Decomposition);
        if ((requires & (ValidationInputs.Behaviour | ValidationInputs.CorruptedInputs | ValidationInputs.DifferentiableMetric)) != 0)
            entry["behaviour"] = Behaviour;
        if ((requires & ValidationInputs.Site) != 0) entry["site"] = TinyModel.MlpSite;
        if ((requires & ValidationInputs.ConceptLabels) != 0)
        {
            entry["labels"] = ConceptLabelsFile.Value;
            // The claim is about the labels' concept and its "equals" class, where the method has such options.
            var given = (JsonObject)entry["options"]!;
            if (optionNames.Contains("concept") && !options.ContainsKey("concept")) given["concept"] = EqualsConcept;
            if (optionNames.Contains("class") && !options.ContainsKey("class")) given["class"] = EqualsConcept;
        }
        root["validations"] = new JsonArray(entry);
        return root.ToJsonString();
    }

    /// <summary>One attribution entry of <paramref name="methodId"/> on the behaviour.</summary>
    public static string ForAttribution(string methodId, ConformanceOptions conformance)
    {
        var root = Base();
        var entry = new JsonObject { ["method"] = methodId, ["behaviour"] = Behaviour, ["options"] = Options(conformance.Options), ["top"] = 3 };
        if (conformance.AttributionDecomposition) entry["decomposition"] = Decomposition;
        else entry["site"] = conformance.AttributionSite ?? "hook_embed";
        root["attributions"] = new JsonArray(entry);
        return root.ToJsonString();
    }

    /// <summary>
    /// The concept of the default labels: whether a token is "=" (position 2 of every "a b =" sequence), labelled for the
    /// <see cref="DatasetSamples"/> sequences of the dataset, so it holds whichever pairs the seeded subset draws.
    /// </summary>
    public const string EqualsConcept = "equals";

    const int DatasetSamples = 48;

    static readonly Lazy<string> ConceptLabelsFile = new(() =>
    {
        var folder = Path.Combine(Path.GetTempPath(), "mechanist-testing", $"labels-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "labels.safetensors");
        var labels = Enumerable.Range(0, DatasetSamples * 3).Select(r => r % 3 == 2 ? 1L : 0L).ToArray();
        Mechanist.Concepts.ConceptLabels.Save(path, [DatasetSamples, 3], [new Mechanist.Concepts.Concept(EqualsConcept, labels, ["other", "equals"])]);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(folder, true); } catch (IOException) { } };
        return path;
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    static JsonObject Options(IReadOnlyDictionary<string, string> options) =>
        new(options.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
}
