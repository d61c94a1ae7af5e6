using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Sae;

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
    /// another run (different fingerprint) is an input error naming the first difference; so is one whose step is not
    /// its folder's or beyond the run's last, or whose tensors are not exactly the ones <paramref name="expected"/>
    /// lists (names, dtypes, shapes, finite values). Nothing of the state is read before the header passes.
    /// </summary>
    public static (long Step, Dictionary<string, Tensor> State)? LoadLatest(string directory, SaeCheckpointExpectation expected)
    {
        if (!Directory.Exists(directory)) return null;
        var latest = Directory.GetDirectories(directory, "step-*")
            .Where(d => StepOf(d) is not null && File.Exists(Path.Combine(d, TrainerFile)) && File.Exists(Path.Combine(d, StateFile)))
            .MaxBy(d => StepOf(d)!.Value);
        if (latest is null) return null;
        var trainerPath = Path.Combine(latest, TrainerFile);
        var trainer = JsonFile.ReadObject(trainerPath, "checkpoint file");
        if (!(trainer["format"] is JsonValue f && f.TryGetValue<int>(out var format) && format == Format))
            throw new MechanistInputException($"{trainerPath}: checkpoint format {trainer["format"]?.ToJsonString() ?? "(missing)"} is not {Format}.");
        var saved = trainer["fingerprint"] as JsonObject ?? new JsonObject();
        foreach (var (key, value) in expected.Fingerprint)
        {
            var other = saved[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            if (other != value)
                throw new MechanistInputException(
                    $"{latest}: this checkpoint belongs to another run ({key} was '{other ?? "(missing)"}', now '{value}'); use another checkpoint_dir or remove it.");
        }
        long folderStep = StepOf(latest)!.Value;
        if (!(trainer["step"] is JsonValue sv && sv.TryGetValue<long>(out var step)))
            throw new MechanistInputException($"{trainerPath}: 'step' must be an integer, got {trainer["step"]?.ToJsonString() ?? "nothing"}.");
        if (step != folderStep || step < 1 || step > expected.LastStep)
            throw new MechanistInputException(
                $"{trainerPath}: 'step' is {step}; expected the step of its folder ({folderStep}), between 1 and the run's {expected.LastStep} steps.");

        var statePath = Path.Combine(latest, StateFile);
        var header = Safetensors.ReadHeader(statePath);
        foreach (var name in header.Entries.Keys.Order(StringComparer.Ordinal))
            if (!expected.State.ContainsKey(name))
                throw new MechanistInputException($"{statePath}: unexpected tensor '{name}' in the checkpoint of this run.");
        foreach (var (name, (type, shape)) in expected.State.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var entry = header.Entries.TryGetValue(name, out var e) ? e
                : throw new MechanistInputException($"{statePath}: missing tensor '{name}' (the checkpoint of this run holds {string.Join(", ", expected.State.Keys.Order(StringComparer.Ordinal))}).");
            string dtype = Safetensors.DTypeName(type);
            if (entry.DType != dtype || !entry.Shape.SequenceEqual(shape))
                throw new MechanistInputException(
                    $"{statePath}: tensor '{name}' is {entry.DType} [{string.Join(", ", entry.Shape)}]; this run needs {dtype} [{string.Join(", ", shape)}].");
        }
        var state = new Dictionary<string, Tensor>();
        try
        {
            foreach (var name in expected.State.Keys)
            {
                var t = Safetensors.ReadTensor(header, name);
                state[name] = t;
                if (t.is_floating_point()) ActivationFiles.EnsureFinite(statePath, name, t);
                else if (t.NumberOfElements > 0 && t.min().item<long>() < 0)
                    throw new MechanistInputException($"{statePath}: tensor '{name}' holds a negative count.");
            }
        }
        catch
        {
            foreach (var t in state.Values) t.Dispose();
            throw;
        }
        return (step, state);
    }

    static long? StepOf(string folder)
    {
        var name = Path.GetFileName(folder);
        return name.StartsWith("step-", StringComparison.Ordinal) &&
            long.TryParse(name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : null;
    }
}

/// <summary>What a resumed run accepts: its fingerprint, its last step, and every state tensor's dtype and shape.</summary>
public sealed record SaeCheckpointExpectation(
    IReadOnlyDictionary<string, string> Fingerprint, long LastStep, IReadOnlyDictionary<string, (ScalarType Type, long[] Shape)> State);
