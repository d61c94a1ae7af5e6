using System.Text.Json.Nodes;
using Mechanist.IO;
using Mechanist.Models.Runtime;
using Mechanist.Models.Text;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Mechanist.Models.Architectures;

/// <summary>
/// GPT-2 (Radford et al. 2019) in Hugging Face's layout: parameters named as in <c>GPT2Model</c>'s state dict
/// (<c>wte</c>, <c>wpe</c>, <c>h.{i}.ln_1</c>, <c>h.{i}.attn.c_attn</c>, …, <c>ln_f</c>; Conv1D weights [in, out]),
/// tied unembedding, GELU with the tanh approximation, <c>layer_norm_epsilon</c>; inference only (no dropout).
/// Takes int64 token ids [batch, pos] and returns logits [batch, pos, vocab]. Hook sites use TransformerLens's
/// names: <c>hook_embed</c>, <c>hook_pos_embed</c>, per block <c>blocks.{i}.…</c>, <c>ln_final.hook_normalized</c>
/// and <c>unembed.hook_out</c> (the logits).
/// </summary>
public sealed class Gpt2Model : HookedModel, ILanguageModel, ITokenizedModel, IEmbeddingModel
{
    public const string ConfigFile = ModelConfig.FileName;
    public const string WeightsFile = "model.safetensors";

    readonly Gpt2Embedding wte;
    readonly Gpt2Embedding wpe;
    readonly ModuleList<Gpt2Block> h;
    readonly Gpt2LayerNorm ln_f;
    readonly Gpt2Embedding? lm_head;
    readonly HookPoint hook_embed, hook_pos_embed, hook_out;

    /// <summary>Builds the modules with uninitialised weights on the CPU (use <see cref="CreateRandom"/> or <see cref="Load"/>).</summary>
    public Gpt2Model(Gpt2Config config) : base("gpt2")
    {
        config.Validate();
        Config = config;
        wte = new Gpt2Embedding("wte", config.VocabSize, config.NEmbd);
        wpe = new Gpt2Embedding("wpe", config.NPositions, config.NEmbd);
        hook_embed = Site("hook_embed");
        hook_pos_embed = Site("hook_pos_embed");
        h = new ModuleList<Gpt2Block>(Enumerable.Range(0, config.NLayer)
            .Select(i => new Gpt2Block($"h.{i}", config, i, s => Site(s))).ToArray());
        ln_f = new Gpt2LayerNorm("ln_f", config.NEmbd, config.LayerNormEpsilon, Site("ln_final.hook_normalized"));
        if (!config.TieWordEmbeddings) lm_head = new Gpt2Embedding("lm_head", config.VocabSize, config.NEmbd);
        hook_out = Site("unembed.hook_out");
        RegisterComponents();
    }

    public Gpt2Config Config { get; }

    public override string ModelType => Gpt2Config.ModelTypeName;

    public int VocabSize => Config.VocabSize;

    /// <summary>
    /// GPT-2's byte-level BPE when the vocabulary is GPT-2's (50,257 ids); a model with its own vocabulary reads the
    /// <c>vocab.json</c> of its folder when it has one (<see cref="Load"/>), and has none known otherwise.
    /// </summary>
    public Func<long, string>? TokenText => Config.VocabSize == Gpt2Tokenizer.VocabSize ? id => Gpt2Tokenizer.Decode([(int)id]) : _vocabulary is { } v ? v.Text : null;

    Text.TokenVocabulary? _vocabulary;

    public int ContextLength => Config.NPositions;

    /// <summary><c>wte</c>.</summary>
    public Tensor? TokenEmbedding() => Unembeddings.Copy(wte.Weight);

    /// <summary><c>lm_head</c> (or the tied <c>wte</c>) transposed; for <c>blocks.L.mlp.hook_post</c>, <c>h.L.mlp.c_proj</c> (Conv1D [d_mlp, d_model]) first.</summary>
    public Tensor? Unembedding(string? site) =>
        Unembeddings.ForSite(site, (lm_head ?? wte).Weight.t(), layer => Weights().GetValueOrDefault($"h.{layer}.mlp.c_proj.weight"));

    /// <summary>The device the weights live on.</summary>
    public Device Device => wte.Weight.device;

    public override Tensor forward(Tensor ids)
    {
        if (ids.ndim != 2)
            throw new MechanistInputException($"GPT-2 expects token ids of shape [batch, pos], got [{string.Join(", ", ids.shape)}].");
        if (ids.dtype is not (ScalarType.Int64 or ScalarType.Int32))
            throw new MechanistInputException($"GPT-2 expects integer token ids, got {ids.dtype}.");
        long batch = ids.shape[0], pos = ids.shape[1];
        if (pos > Config.NPositions)
            throw new MechanistInputException($"a sequence of {pos} tokens is longer than the model's {Config.NPositions} positions.");
        if (ids.numel() > 0)
        {
            long min = ids.min().item<long>(), max = ids.max().item<long>();
            if (min < 0 || max >= Config.VocabSize)
                throw new MechanistInputException($"token id {(min < 0 ? min : max)} is outside the vocabulary [0, {Config.VocabSize}).");
        }
        var tokens = ids.to(ScalarType.Int64, Device);
        var embed = hook_embed.call(wte.call(tokens));
        var positions = arange(pos, ScalarType.Int64, Device);
        var posEmbed = hook_pos_embed.call(wpe.call(positions).unsqueeze(0).expand(batch, pos, Config.NEmbd));
        var resid = embed + posEmbed;
        foreach (var block in h) resid = block.call(resid);
        var normalized = ln_f.call(resid);
        var unembed = (lm_head ?? wte).Weight;
        return hook_out.call(normalized.matmul(unembed.t()));
    }

    /// <summary>
    /// A model with Hugging Face's GPT-2 initialisation drawn from <paramref name="seed"/>: weights N(0, 0.02), the
    /// residual projections (<c>c_proj</c>) N(0, 0.02/√(2·n_layer)), LayerNorm weight 1, biases 0.
    /// </summary>
    public static Gpt2Model CreateRandom(Gpt2Config config, int seed, Device? device = null)
    {
        var model = new Gpt2Model(config);
        var generator = new Generator((ulong)seed);
        using (no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
            {
                if (name.EndsWith("ln_1.weight") || name.EndsWith("ln_2.weight") || name == "ln_f.weight") p.fill_(1);
                else if (name.EndsWith(".bias")) p.zero_();
                else if (name.EndsWith("c_proj.weight")) p.normal_(0, 0.02 / Math.Sqrt(2 * config.NLayer), generator);
                else p.normal_(0, 0.02, generator);
            }
        }
        if (device is not null) model.to(device);
        return model;
    }

    /// <summary>The parameters under their Hugging Face names (<c>wte.weight</c>, <c>h.0.attn.c_attn.weight</c>, …).</summary>
    public IReadOnlyDictionary<string, Tensor> Weights() =>
        named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);

    /// <summary>Writes <c>config.json</c> + <c>model.safetensors</c> into <paramref name="folder"/>, atomically (a temporary folder renamed into place).</summary>
    public void Save(string folder)
    {
        var weights = Weights();
        var configText = Config.ToJsonText();
        AtomicFile.WriteDirectory(folder, temp =>
        {
            File.WriteAllText(Path.Combine(temp, ConfigFile), configText);
            Safetensors.Write(Path.Combine(temp, WeightsFile), weights, new Dictionary<string, string> { ["format"] = "pt" });
        });
    }

    /// <summary>
    /// Loads a model folder: <c>config.json</c> (parsed here unless given) and <c>model.safetensors</c> with every
    /// weight checked for presence, dtype and shape (see <see cref="Gpt2Checkpoint"/>). Every problem is an input
    /// error naming the file and the key or tensor.
    /// </summary>
    public static Gpt2Model Load(string folder, JsonObject? config = null, Device? device = null)
    {
        if (!Directory.Exists(folder))
            throw new MechanistInputException($"{folder}: model folder not found.");
        var configPath = Path.Combine(folder, ConfigFile);
        config ??= ModelConfig.Read(configPath);
        var parsed = Gpt2Config.FromJson(config, configPath);
        Gpt2Checkpoint.RequireRoomFor(parsed, Path.Combine(folder, WeightsFile), configPath);
        var model = new Gpt2Model(parsed);
        try
        {
            Gpt2Checkpoint.LoadInto(model, Path.Combine(folder, WeightsFile));
            if (parsed.VocabSize != Gpt2Tokenizer.VocabSize) model._vocabulary = Text.TokenVocabulary.TryRead(folder);
            if (device is not null) model.to(device);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
