using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Options;

namespace Mechanist.Models.Architectures;

/// <summary>
/// A GPT-2 <c>config.json</c> in Hugging Face's format (<c>model_type</c> "gpt2"). The keys that define the
/// architecture (<c>vocab_size</c>, <c>n_positions</c>, <c>n_embd</c>, <c>n_layer</c>, <c>n_head</c>) are
/// required; the other computation keys take Hugging Face's defaults; keys Hugging Face writes that do not change
/// the forward pass (dropout, generation, tokenizer settings, …) are accepted and ignored; any other key is an
/// error that suggests the closest known key.
/// </summary>
public sealed record Gpt2Config
{
    public const string ModelTypeName = "gpt2";

    public required int VocabSize { get; init; }
    public required int NPositions { get; init; }
    public required int NEmbd { get; init; }
    public required int NLayer { get; init; }
    public required int NHead { get; init; }

    /// <summary>Width of the MLP's hidden layer; null means 4 × n_embd.</summary>
    public int? NInner { get; init; }

    public double LayerNormEpsilon { get; init; } = 1e-5;

    /// <summary><c>gelu_new</c> (GELU, tanh approximation: GPT-2's), <c>gelu_pytorch_tanh</c>, <c>gelu_fast</c>, <c>gelu</c> (exact), or <c>relu</c>.</summary>
    public string ActivationFunction { get; init; } = "gelu_new";

    /// <summary>Divide attention scores by √d_head.</summary>
    public bool ScaleAttnWeights { get; init; } = true;

    /// <summary>Also divide attention scores by (layer index + 1).</summary>
    public bool ScaleAttnByInverseLayerIdx { get; init; }

    /// <summary>Unembedding = embedding transposed (GPT-2's default); false requires a separate <c>lm_head.weight</c>.</summary>
    public bool TieWordEmbeddings { get; init; } = true;

    public int DHead => NEmbd / NHead;
    public int DMlp => NInner ?? 4 * NEmbd;

    /// <summary>Activation functions this implementation computes.</summary>
    public static readonly IReadOnlyList<string> Activations = ["gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu", "relu"];

    static readonly string[] RequiredKeys = ["model_type", "vocab_size", "n_positions", "n_embd", "n_layer", "n_head"];

    /// <summary>Keys read here (besides the required ones).</summary>
    static readonly string[] ComputeKeys =
    [
        "n_inner", "layer_norm_epsilon", "activation_function", "scale_attn_weights", "scale_attn_by_inverse_layer_idx",
        "tie_word_embeddings", "add_cross_attention", "pruned_heads",
    ];

    /// <summary>
    /// Keys of Hugging Face's GPT2Config and PretrainedConfig that do not change the forward pass of a loaded model
    /// (dropout and initialisation, generation defaults, token ids, bookkeeping). Keys starting with '_' are
    /// Hugging Face's private bookkeeping (<c>_name_or_path</c>, …) and are ignored too.
    /// </summary>
    static readonly string[] IgnoredKeys =
    [
        "n_ctx", "resid_pdrop", "embd_pdrop", "attn_pdrop", "initializer_range", "summary_type", "summary_use_proj",
        "summary_activation", "summary_proj_to_labels", "summary_first_dropout", "use_cache", "bos_token_id",
        "eos_token_id", "pad_token_id", "sep_token_id", "decoder_start_token_id", "reorder_and_upcast_attn",
        "n_special", "predict_special_tokens", "architectures", "transformers_version", "torch_dtype", "dtype",
        "return_dict", "output_hidden_states", "output_attentions", "torchscript", "use_bfloat16", "tf_legacy_loss",
        "chunk_size_feed_forward", "is_encoder_decoder", "is_decoder", "cross_attention_hidden_size",
        "tie_encoder_decoder", "max_length", "min_length", "do_sample", "early_stopping", "num_beams",
        "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty",
        "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
        "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id",
        "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
        "begin_suppress_tokens", "finetuning_task", "id2label", "label2id", "num_labels", "tokenizer_class", "prefix",
        "task_specific_params", "problem_type", "gradient_checkpointing",
    ];

    /// <summary>Every key accepted in a GPT-2 <c>config.json</c>.</summary>
    public static IEnumerable<string> KnownKeys => RequiredKeys.Concat(ComputeKeys).Concat(IgnoredKeys);

    /// <summary>Parses and validates a <c>config.json</c> object; <paramref name="path"/> names the file in errors.</summary>
    public static Gpt2Config FromJson(JsonObject json, string path)
    {
        var known = KnownKeys.ToHashSet(StringComparer.Ordinal);
        foreach (var (key, _) in json)
        {
            if (known.Contains(key) || key.StartsWith('_')) continue;
            var closest = NameSuggester.Closest(key, KnownKeys);
            throw new MechanistInputException(
                $"{path}: unknown key '{key}' in a GPT-2 config.{(closest is null ? "" : $" Did you mean '{closest}'?")}");
        }
        foreach (var key in RequiredKeys)
            if (!json.ContainsKey(key) || json[key] is null)
                throw new MechanistInputException($"{path}: missing required key '{key}' (a GPT-2 config needs {string.Join(", ", RequiredKeys)}).");
        var modelType = String(json, "model_type", path);
        if (modelType != ModelTypeName)
            throw new MechanistInputException($"{path}: 'model_type' is '{modelType}'; expected '{ModelTypeName}'.");
        if (json["add_cross_attention"] is { } cross && Bool(json, "add_cross_attention", path, false))
            throw new MechanistInputException($"{path}: 'add_cross_attention' is {cross.ToJsonString()}; cross-attention (an encoder-decoder GPT-2) is not supported.");
        if (json["pruned_heads"] is JsonObject { Count: > 0 })
            throw new MechanistInputException($"{path}: 'pruned_heads' is not empty; pruned GPT-2 checkpoints are not supported.");

        var config = new Gpt2Config
        {
            VocabSize = Int(json, "vocab_size", path),
            NPositions = Int(json, "n_positions", path),
            NEmbd = Int(json, "n_embd", path),
            NLayer = Int(json, "n_layer", path),
            NHead = Int(json, "n_head", path),
            NInner = json["n_inner"] is null ? null : Int(json, "n_inner", path),
            LayerNormEpsilon = json["layer_norm_epsilon"] is null ? 1e-5 : Double(json, "layer_norm_epsilon", path),
            ActivationFunction = json["activation_function"] is null ? "gelu_new" : String(json, "activation_function", path),
            ScaleAttnWeights = Bool(json, "scale_attn_weights", path, true),
            ScaleAttnByInverseLayerIdx = Bool(json, "scale_attn_by_inverse_layer_idx", path, false),
            TieWordEmbeddings = Bool(json, "tie_word_embeddings", path, true),
        };
        config.Validate(path);
        return config;
    }

    /// <summary>Checks the values; errors name the key.</summary>
    public void Validate(string path = "config.json")
    {
        void Positive(string key, long value)
        {
            if (value < 1) throw new MechanistInputException($"{path}: '{key}' must be at least 1, got {value}.");
        }
        Positive("vocab_size", VocabSize);
        Positive("n_positions", NPositions);
        Positive("n_embd", NEmbd);
        Positive("n_layer", NLayer);
        Positive("n_head", NHead);
        if (NInner is { } inner) Positive("n_inner", inner);
        if (NEmbd % NHead != 0)
            throw new MechanistInputException($"{path}: 'n_embd' ({NEmbd}) must be divisible by 'n_head' ({NHead}).");
        if (!(LayerNormEpsilon > 0) || !double.IsFinite(LayerNormEpsilon))
            throw new MechanistInputException($"{path}: 'layer_norm_epsilon' must be a positive number, got {LayerNormEpsilon.ToString(CultureInfo.InvariantCulture)}.");
        if (!Activations.Contains(ActivationFunction))
        {
            var closest = NameSuggester.Closest(ActivationFunction, Activations);
            throw new MechanistInputException(
                $"{path}: 'activation_function' '{ActivationFunction}' is not supported (expected one of {string.Join(", ", Activations)}).{(closest is null ? "" : $" Did you mean '{closest}'?")}");
        }
    }

    /// <summary>The Hugging Face <c>config.json</c> of this configuration (loads in transformers as GPT2LMHeadModel).</summary>
    public JsonObject ToJson() => new()
    {
        ["model_type"] = ModelTypeName,
        ["architectures"] = new JsonArray("GPT2LMHeadModel"),
        ["vocab_size"] = VocabSize,
        ["n_positions"] = NPositions,
        ["n_embd"] = NEmbd,
        ["n_layer"] = NLayer,
        ["n_head"] = NHead,
        ["n_inner"] = NInner,
        ["layer_norm_epsilon"] = LayerNormEpsilon,
        ["activation_function"] = ActivationFunction,
        ["scale_attn_weights"] = ScaleAttnWeights,
        ["scale_attn_by_inverse_layer_idx"] = ScaleAttnByInverseLayerIdx,
        ["tie_word_embeddings"] = TieWordEmbeddings,
        ["resid_pdrop"] = 0.0,
        ["embd_pdrop"] = 0.0,
        ["attn_pdrop"] = 0.0,
        ["torch_dtype"] = "float32",
    };

    public string ToJsonText() => ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";

    static int Int(JsonObject json, string key, string path)
    {
        if (json[key] is JsonValue v)
        {
            if (v.TryGetValue<int>(out var i)) return i;
            if (v.TryGetValue<double>(out var d) && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue) return (int)d;
        }
        throw new MechanistInputException($"{path}: '{key}' must be an integer, got {json[key]?.ToJsonString() ?? "null"}.");
    }

    static double Double(JsonObject json, string key, string path) =>
        json[key] is JsonValue v && v.TryGetValue<double>(out var d) ? d
            : throw new MechanistInputException($"{path}: '{key}' must be a number, got {json[key]?.ToJsonString() ?? "null"}.");

    static string String(JsonObject json, string key, string path) =>
        json[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s
            : throw new MechanistInputException($"{path}: '{key}' must be a string, got {json[key]?.ToJsonString() ?? "null"}.");

    static bool Bool(JsonObject json, string key, string path, bool fallback)
    {
        if (json[key] is null) return fallback;
        return json[key] is JsonValue v && v.TryGetValue<bool>(out var b) ? b
            : throw new MechanistInputException($"{path}: '{key}' must be true or false, got {json[key]!.ToJsonString()}.");
    }
}
