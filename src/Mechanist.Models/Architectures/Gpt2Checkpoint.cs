using System.Text.RegularExpressions;
using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Models.Architectures;

/// <summary>
/// Reads GPT-2 weights from a Hugging Face <c>model.safetensors</c> into a <see cref="Gpt2Model"/>. Accepts the
/// names of <c>GPT2Model</c> (<c>h.0.attn.c_attn.weight</c>) and of <c>GPT2LMHeadModel</c>
/// (<c>transformer.h.0.attn.c_attn.weight</c>), ignores the causal-mask buffers <c>attn.bias</c> and
/// <c>attn.masked_bias</c>, and accepts <c>lm_head.weight</c> when it equals <c>wte.weight</c> (tied). Every weight
/// must be present, floating point (F32, F16, BF16 or F64; converted to float32), of the expected shape and finite;
/// a tensor it does not know is an error too. Nothing is copied until the whole header has been checked.
/// </summary>
public static partial class Gpt2Checkpoint
{
    const string Prefix = "transformer.";

    [GeneratedRegex(@"^h\.\d+\.attn\.(bias|masked_bias)$")]
    private static partial Regex MaskBuffer();

    static readonly string[] FloatTypes = ["F32", "F16", "BF16", "F64"];

    /// <summary>
    /// Refuses, before the model is allocated, a config whose weights cannot be in <paramref name="path"/>: the
    /// config's matrices need at least 2 bytes an element (F16), so a weights file smaller than that is refused, as
    /// is a config too large to count. Allocation is thereby bounded by the size of the files the user gave.
    /// </summary>
    public static void RequireRoomFor(Gpt2Config config, string path, string configPath)
    {
        long e = config.NEmbd, m = config.DMlp, v = config.VocabSize, layers = config.NLayer;
        var elements = Models.Serialization.WeightFile.CountElements(
            [v, e], [config.NPositions, e], [layers, 4 * e, e], [layers, 2 * e, m], [config.TieWordEmbeddings ? 0 : v, e]);
        Models.Serialization.WeightFile.RequireRoomFor(path, elements, 2, configPath);
    }

    public static void LoadInto(Gpt2Model model, string path)
    {
        if (!File.Exists(path))
        {
            var index = Path.Combine(Path.GetDirectoryName(path)!, "model.safetensors.index.json");
            throw new MechanistInputException(File.Exists(index)
                ? $"{path}: file not found; sharded checkpoints (model.safetensors.index.json) are not supported: save the model as one model.safetensors."
                : $"{path}: file not found; a model folder holds config.json and model.safetensors.");
        }
        var header = Safetensors.ReadHeader(path);
        var expected = model.Weights();

        // Map stored names to model names.
        var byName = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        SafetensorsEntry? lmHead = null;
        foreach (var (stored, entry) in header.Entries)
        {
            var name = stored.StartsWith(Prefix, StringComparison.Ordinal) ? stored[Prefix.Length..] : stored;
            if (MaskBuffer().IsMatch(name)) continue;
            if (name == "lm_head.weight" && model.Config.TieWordEmbeddings)
            {
                lmHead = entry;
                continue;
            }
            if (!expected.ContainsKey(name))
                throw new MechanistInputException(
                    $"{path}: unexpected tensor '{stored}' for a GPT-2 model with {model.Config.NLayer} layers (expected Hugging Face GPT-2 names such as 'h.0.attn.c_attn.weight').");
            if (!byName.TryAdd(name, entry))
                throw new MechanistInputException($"{path}: tensor '{name}' is stored twice (as '{byName[name].Name}' and '{stored}').");
        }
        foreach (var (name, parameter) in expected)
        {
            if (!byName.TryGetValue(name, out var entry))
                throw new MechanistInputException(
                    $"{path}: missing weight '{name}' (shape [{string.Join(", ", parameter.shape)}]); a GPT-2 checkpoint with n_layer = {model.Config.NLayer} needs all of {expected.Count} weights.");
            Check(path, entry, parameter.shape);
        }
        if (lmHead is not null) Check(path, lmHead, expected["wte.weight"].shape);

        using var noGrad = no_grad();
        foreach (var (name, parameter) in expected)
        {
            using var scope = NewDisposeScope();
            var entry = byName[name];
            var value = Safetensors.ReadTensor(header, entry.Name).to(ScalarType.Float32);
            if (!isfinite(value).all().item<bool>())
                throw new MechanistInputException($"{path}: tensor '{entry.Name}' contains NaN or infinite values.");
            parameter.copy_(value);
        }
        if (lmHead is not null)
        {
            using var scope = NewDisposeScope();
            var head = Safetensors.ReadTensor(header, lmHead.Name).to(ScalarType.Float32);
            if (!head.equal(expected["wte.weight"].cpu()).all().item<bool>())
                throw new MechanistInputException(
                    $"{path}: tensor '{lmHead.Name}' differs from 'wte.weight', but the config ties the unembedding to the embedding (tie_word_embeddings is true).");
        }
    }

    static void Check(string path, SafetensorsEntry entry, long[] shape)
    {
        if (!FloatTypes.Contains(entry.DType))
            throw new MechanistInputException(
                $"{path}: tensor '{entry.Name}' has dtype {entry.DType}; expected a floating-point dtype ({string.Join(", ", FloatTypes)}).");
        if (!entry.Shape.SequenceEqual(shape))
            throw new MechanistInputException(
                $"{path}: tensor '{entry.Name}' has shape [{string.Join(", ", entry.Shape)}]; expected [{string.Join(", ", shape)}].");
    }
}
