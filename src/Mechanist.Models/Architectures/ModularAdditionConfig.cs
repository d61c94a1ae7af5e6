using System.Text.Json.Nodes;
using Mechanist.Models.Serialization;

namespace Mechanist.Models.Architectures;

/// <summary>
/// Configuration of the one-layer modular-addition transformer of Nanda et al. (2023). Keys in <c>config.json</c>
/// follow TransformerLens' <c>HookedTransformerConfig</c>: <c>p</c>, <c>d_model</c>, <c>n_heads</c>, <c>d_head</c>,
/// <c>d_mlp</c>, <c>act_fn</c>, and the implied <c>n_ctx</c> (3: "a b ="), <c>d_vocab</c> (p + 1: token p is "=")
/// and <c>d_vocab_out</c> (p).
/// </summary>
public sealed record ModularAdditionConfig
{
    public static readonly string[] Keys = ["p", "d_model", "n_heads", "d_head", "d_mlp", "act_fn", "n_ctx", "d_vocab", "d_vocab_out"];
    public static readonly string[] Activations = ["relu", "gelu"];

    /// <summary>The modulus; inputs are 0 … p − 1.</summary>
    public int P { get; init; } = 113;

    public int DModel { get; init; } = 128;

    public int NHeads { get; init; } = 4;

    public int DHead { get; init; } = 32;

    public int DMlp { get; init; } = 512;

    /// <summary><c>relu</c> (the paper's) or <c>gelu</c>.</summary>
    public string ActFn { get; init; } = "relu";

    /// <summary>Sequence length: "a b =".</summary>
    public int NCtx => 3;

    /// <summary>Input vocabulary: the residues 0 … p − 1 and the "=" token.</summary>
    public int DVocab => P + 1;

    /// <summary>Output vocabulary: the residues.</summary>
    public int DVocabOut => P;

    /// <summary>The token of "=" (the last one).</summary>
    public int EqualsToken => P;

    /// <summary>The configuration the paper uses with <paramref name="p"/>, d_head = d_model / n_heads.</summary>
    public static ModularAdditionConfig Paper(int p = 113) => new() { P = p };

    /// <summary>Number of weights of the model (null when it overflows a long).</summary>
    public long? ParameterCount
    {
        get
        {
            long d = DModel, h = NHeads, e = DHead, m = DMlp;
            return WeightFile.CountElements([DVocab, d], [NCtx, d], [4, h, d, e], [3, h, e], [d], [d, m], [m], [m, d], [d], [d, P], [P]);
        }
    }

    /// <summary>Throws <see cref="MechanistInputException"/> naming the first invalid value.</summary>
    public void Validate(string source = "modular-addition config")
    {
        if (P < 2) throw new MechanistInputException($"{source}: p must be at least 2, got {P}.");
        if (DModel < 1) throw new MechanistInputException($"{source}: d_model must be at least 1, got {DModel}.");
        if (NHeads < 1) throw new MechanistInputException($"{source}: n_heads must be at least 1, got {NHeads}.");
        if (DHead < 1) throw new MechanistInputException($"{source}: d_head must be at least 1, got {DHead}.");
        if (DMlp < 1) throw new MechanistInputException($"{source}: d_mlp must be at least 1, got {DMlp}.");
        if (!Activations.Contains(ActFn)) throw new MechanistInputException($"{source}: act_fn must be one of {string.Join(", ", Activations)}, got '{ActFn}'.");
    }

    public JsonObject ToJson() => new()
    {
        ["model_type"] = ModularAdditionTransformer.ModelTypeId,
        ["p"] = P, ["d_model"] = DModel, ["n_heads"] = NHeads, ["d_head"] = DHead, ["d_mlp"] = DMlp, ["act_fn"] = ActFn,
        ["n_ctx"] = NCtx, ["d_vocab"] = DVocab, ["d_vocab_out"] = DVocabOut,
    };

    /// <summary>Reads a config strictly: every key present, no unknown key, implied keys consistent.</summary>
    public static ModularAdditionConfig FromJson(JsonObject json, string source)
    {
        var r = new ConfigReader(json, source, ModularAdditionTransformer.ModelTypeId, Keys);
        var config = new ModularAdditionConfig
        {
            P = r.Int("p", 2), DModel = r.Int("d_model", 1), NHeads = r.Int("n_heads", 1), DHead = r.Int("d_head", 1),
            DMlp = r.Int("d_mlp", 1), ActFn = r.String("act_fn", Activations),
        };
        r.Implied("n_ctx", config.NCtx, "the inputs are \"a b =\"");
        r.Implied("d_vocab", config.DVocab, "p residues and the \"=\" token");
        r.Implied("d_vocab_out", config.DVocabOut, "the p residues");
        return config;
    }
}
