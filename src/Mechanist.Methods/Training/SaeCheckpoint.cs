using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Methods.Training;

/// <summary>
/// A training checkpoint: a folder <c>step-NNNNNNNNN</c> in the checkpoint directory with <c>trainer.json</c>
/// (step, format, and the fingerprint of what is being trained) and <c>state.safetensors</c> (parameters, Adam
/// moments, buffers, dead-latent counters, normalisation scales). Each is written under a temporary name and renamed,
/// so a kill at any moment leaves the previous checkpoint intact; older ones are removed after a new one is complete.
/// </summary>
public static class SaeCheckpoint
{
    public const string StateFile = "state.safetensors";
    public const string TrainerFile = "trainer.json";
    const int Format = 1;

    public static string FolderName(long step) => $"step-{step.ToString("D9", CultureInfo.InvariantCulture)}";

    /// <summary>Writes the checkpoint of <paramref name="step"/> and removes older ones.</summary>
    public static void Save(string directory, long step, IReadOnlyDictionary<string, string> fingerprint, IReadOnlyDictionary<string, Tensor> state)
    {
        Directory.CreateDirectory(directory);
        var trainer = new JsonObject
        {
            ["format"] = Format,
            ["step"] = step,
            ["fingerprint"] = new JsonObject(fingerprint.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        };
        var cpu = state.ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu());
        var target = Path.Combine(directory, FolderName(step));
        AtomicFile.WriteDirectory(target, temp =>
        {
            Safetensors.Write(Path.Combine(temp, StateFile), cpu);
            File.WriteAllText(Path.Combine(temp, TrainerFile), trainer.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        });
        foreach (var old in Directory.GetDirectories(directory, "step-*"))
            if (StepOf(old) is long s && s < step)
                Directory.Delete(old, recursive: true);
    }

    /// <summary>
    /// The latest complete checkpoint in <paramref name="directory"/>, or null when there is none. A checkpoint of
    /// another run (different fingerprint) is an input error naming the first difference.
    /// </summary>
    public static (long Step, Dictionary<string, Tensor> State)? LoadLatest(string directory, IReadOnlyDictionary<string, string> fingerprint)
    {
        if (!Directory.Exists(directory)) return null;
        var latest = Directory.GetDirectories(directory, "step-*")
            .Where(d => StepOf(d) is not null && File.Exists(Path.Combine(d, TrainerFile)) && File.Exists(Path.Combine(d, StateFile)))
            .MaxBy(d => StepOf(d)!.Value);
        if (latest is null) return null;
        var trainerPath = Path.Combine(latest, TrainerFile);
        var trainer = JsonFile.ReadObject(trainerPath, "checkpoint file");
        if (trainer["format"]?.GetValue<int>() != Format)
            throw new MechanistInputException($"{trainerPath}: checkpoint format {trainer["format"]?.ToJsonString() ?? "(missing)"} is not {Format}.");
        var saved = trainer["fingerprint"] as JsonObject ?? new JsonObject();
        foreach (var (key, value) in fingerprint)
        {
            var other = saved[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            if (other != value)
                throw new MechanistInputException(
                    $"{latest}: this checkpoint belongs to another run ({key} was '{other ?? "(missing)"}', now '{value}'); use another checkpoint_dir or remove it.");
        }
        long step = trainer["step"]?.GetValue<long>() ?? throw new MechanistInputException($"{trainerPath}: 'step' is missing.");
        return (step, Safetensors.ReadAll(Path.Combine(latest, StateFile)));
    }

    static long? StepOf(string folder)
    {
        var name = Path.GetFileName(folder);
        return name.StartsWith("step-", StringComparison.Ordinal) &&
            long.TryParse(name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : null;
    }
}
