using System.Text.Json.Nodes;
using Mechanist.Models.Runtime;
using Mechanist.Models.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Mechanist.Models.Architectures;

/// <summary>
/// The one-layer transformer that groks modular addition (Nanda et al. 2023, "Progress measures for grokking via
/// mechanistic interpretability"): inputs "a b =" as tokens [a, b, p], one attention layer and one MLP, no
/// LayerNorm, logits over the p residues at every position (the last one is the answer).
/// Weights and hook sites carry TransformerLens' names (<c>embed.W_E</c>, <c>blocks.0.attn.W_Q</c> [n_heads,
/// d_model, d_head], …; <c>blocks.0.attn.hook_pattern</c>, …), so analyses written against TransformerLens line up.
/// Input: int64 tokens [batch, pos] with pos ≤ 3; output: logits [batch, pos, p]. As an <see cref="ILanguageModel"/>
/// it reads ids 0 … p (<see cref="VocabSize"/> = p + 1) over 3 positions, so <c>mechanist harvest</c> takes it.
/// </summary>
public sealed class ModularAdditionTransformer : HookedModel, ITaskModel, ITokenizedModel, IEmbeddingModel
{
    public const string ModelTypeId = "modular-addition";

    /// <summary>Buffers TransformerLens saves in its state dict; present in an exported file, they are skipped.</summary>
    public static readonly string[] IgnoredTensors = ["blocks.0.attn.mask", "blocks.0.attn.IGNORE"];

    readonly Parameter _wE, _wPos, _wQ, _wK, _wV, _wO, _bQ, _bK, _bV, _bO, _wIn, _bIn, _wOut, _bOut, _wU, _bU;
    readonly List<ExpectedTensor> _weights = [];
    readonly HookPoint _hookEmbed, _hookPosEmbed, _hookResidPre, _hookQ, _hookK, _hookV, _hookAttnScores, _hookPattern, _hookZ,
        _hookAttnOut, _hookResidMid, _hookMlpPre, _hookMlpPost, _hookMlpOut, _hookResidPost, _hookLogits;

    ModularAdditionTransformer(ModularAdditionConfig config, Device device) : base(ModelTypeId)
    {
        config.Validate();
        Config = config;
        Device = device;
        int d = config.DModel, h = config.NHeads, e = config.DHead, m = config.DMlp;
        _wE = Weight("embed.W_E", "d_vocab, d_model", config.DVocab, d);
        _wPos = Weight("pos_embed.W_pos", "n_ctx, d_model", config.NCtx, d);
        _wQ = Weight("blocks.0.attn.W_Q", "n_heads, d_model, d_head", h, d, e);
        _wK = Weight("blocks.0.attn.W_K", "n_heads, d_model, d_head", h, d, e);
        _wV = Weight("blocks.0.attn.W_V", "n_heads, d_model, d_head", h, d, e);
        _wO = Weight("blocks.0.attn.W_O", "n_heads, d_head, d_model", h, e, d);
        _bQ = Weight("blocks.0.attn.b_Q", "n_heads, d_head", h, e);
        _bK = Weight("blocks.0.attn.b_K", "n_heads, d_head", h, e);
        _bV = Weight("blocks.0.attn.b_V", "n_heads, d_head", h, e);
        _bO = Weight("blocks.0.attn.b_O", "d_model", d);
        _wIn = Weight("blocks.0.mlp.W_in", "d_model, d_mlp", d, m);
        _bIn = Weight("blocks.0.mlp.b_in", "d_mlp", m);
        _wOut = Weight("blocks.0.mlp.W_out", "d_mlp, d_model", m, d);
        _bOut = Weight("blocks.0.mlp.b_out", "d_model", d);
        _wU = Weight("unembed.W_U", "d_model, d_vocab_out", d, config.DVocabOut);
        _bU = Weight("unembed.b_U", "d_vocab_out", config.DVocabOut);

        _hookEmbed = Site("hook_embed");
        _hookPosEmbed = Site("hook_pos_embed");
        _hookResidPre = Site("blocks.0.hook_resid_pre");
        _hookQ = Site("blocks.0.attn.hook_q");
        _hookK = Site("blocks.0.attn.hook_k");
        _hookV = Site("blocks.0.attn.hook_v");
        _hookAttnScores = Site("blocks.0.attn.hook_attn_scores");
        _hookPattern = Site("blocks.0.attn.hook_pattern");
        _hookZ = Site("blocks.0.attn.hook_z");
        _hookAttnOut = Site("blocks.0.hook_attn_out");
        _hookResidMid = Site("blocks.0.hook_resid_mid");
        _hookMlpPre = Site("blocks.0.mlp.hook_pre");
        _hookMlpPost = Site("blocks.0.mlp.hook_post");
        _hookMlpOut = Site("blocks.0.hook_mlp_out");
        _hookResidPost = Site("blocks.0.hook_resid_post");
        _hookLogits = Site("unembed.hook_out");
    }

    public override string ModelType => ModelTypeId;

    public ModularAdditionConfig Config { get; }

    /// <summary>Input ids 0 … p (the residues and "="); the logits cover only the p residues.</summary>
    public int VocabSize => Config.DVocab;

    public int ContextLength => Config.NCtx;

    /// <summary>Ids 0 … p − 1 are the residues (their numbers), id p is "=".</summary>
    public Func<long, string>? TokenText => id => id == Config.EqualsToken ? "=" : id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public Device Device { get; }

    /// <summary>
    /// The task scores the "=" position (the last of "a b =") against (a + b) mod p. Inputs must be full
    /// sequences [a, b, p] with residues a, b.
    /// </summary>
    public TaskAnswers Answers(Tensor tokens)
    {
        CheckTokens(tokens);
        if (tokens.shape[1] != Config.NCtx)
            throw new MechanistInputException(
                $"model '{ModelTypeId}' labels only whole inputs \"a b =\" ([batch, {Config.NCtx}]), got [{string.Join(", ", tokens.shape)}].");
        using var scope = NewDisposeScope();
        var a = tokens.select(1, 0);
        var b = tokens.select(1, 1);
        bool residues = (a.lt(Config.P) & b.lt(Config.P) & tokens.select(1, 2).eq(Config.EqualsToken)).all().item<bool>();
        if (!residues)
            throw new MechanistInputException(
                $"model '{ModelTypeId}' labels inputs [a, b, {Config.EqualsToken}] with residues a, b < {Config.P}; some input is not of that form.");
        var labels = (a + b).remainder(Config.P).unsqueeze(1);
        return new TaskAnswers([Config.NCtx - 1], labels.MoveToOuterDisposeScope());
    }

    /// <summary>Every weight with its TransformerLens name, in a fixed order.</summary>
    /// <summary><c>embed.W_E</c> [d_vocab, d_model] (the '=' token included).</summary>
    public Tensor? TokenEmbedding() => Unembeddings.Copy(_wE);

    /// <summary><c>unembed.W_U</c>; for <c>blocks.0.mlp.hook_post</c>, <c>blocks.0.mlp.W_out</c> first.</summary>
    public Tensor? Unembedding(string? site) => Unembeddings.ForSite(site, _wU, layer => layer == 0 ? _wOut : null);

    public IReadOnlyList<(string Name, Parameter Value)> Weights => _weights.Select(w => (w.Name, (Parameter)w.Target)).ToList();

    /// <summary>Whether the weight named <paramref name="name"/> is a bias (<c>b_*</c>); the paper keeps them frozen at zero.</summary>
    public static bool IsBias(string name) => name.Split('.')[^1].StartsWith("b_", StringComparison.Ordinal);

    /// <summary>
    /// A model with TransformerLens' default ("gpt2") initialisation: every <c>W_*</c> drawn from
    /// N(0, (0.8/√d_model)²) in the order of <see cref="Weights"/>, every bias zero.
    /// </summary>
    public static ModularAdditionTransformer Create(ModularAdditionConfig config, int seed, Device? device = null)
    {
        var model = new ModularAdditionTransformer(config, device ?? CPU);
        var generator = new Generator((ulong)seed);
        double std = 0.8 / Math.Sqrt(config.DModel);
        using var _ = no_grad();
        foreach (var (name, p) in model.Weights)
        {
            if (!IsBias(name))
            {
                using var value = randn(p.shape, generator: generator) * std;
                p.copy_(value);
            }
        }
        return model;
    }

    /// <summary>Loads a model folder (<c>config.json</c> + <c>model.safetensors</c>), validating both strictly.</summary>
    public static ModularAdditionTransformer Load(string folder, Device? device = null) =>
        FromFolder(folder, ModelFolderLayout.ReadConfig(folder), device);

    /// <summary>Builds the model from an already parsed <c>config.json</c> and loads the folder's weights.</summary>
    public static ModularAdditionTransformer FromFolder(string folder, JsonObject config, Device? device = null)
    {
        var parsed = ModularAdditionConfig.FromJson(config, ModelFolderLayout.ConfigPath(folder));
        WeightFile.RequireRoomFor(ModelFolderLayout.WeightsPath(folder), parsed.ParameterCount, 4, ModelFolderLayout.ConfigPath(folder));
        var model = new ModularAdditionTransformer(parsed, device ?? CPU);
        try
        {
            WeightFile.Load(ModelFolderLayout.WeightsPath(folder), model._weights, IgnoredTensors);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Writes the model folder atomically.</summary>
    public void Save(string folder) => ModelFolderLayout.SaveFolder(folder, Config.ToJson(), Weights.Select(w => (w.Name, (Tensor)w.Value)));

    /// <summary>Writes <c>config.json</c> and <c>model.safetensors</c> into an existing folder, each file atomically.</summary>
    public void WriteInto(string folder) => ModelFolderLayout.WriteInto(folder, Config.ToJson(), Weights.Select(w => (w.Name, (Tensor)w.Value)));

    /// <summary>Copies weights by name from <paramref name="values"/> (same names and shapes as <see cref="Weights"/>).</summary>
    public void LoadWeights(IReadOnlyDictionary<string, Tensor> values)
    {
        using var _ = no_grad();
        foreach (var (name, p) in Weights) p.copy_(values[name]);
    }

    /// <summary>The full forward pass: logits [batch, pos, p]; every hook site fires.</summary>
    public override Tensor forward(Tensor tokens)
    {
        CheckTokens(tokens);
        long batch = tokens.shape[0], n = tokens.shape[1];
        int d = Config.DModel;
        var embed = _hookEmbed.call(_wE.index_select(0, tokens.reshape(-1)).view(batch, n, d));
        var pos = _hookPosEmbed.call(_wPos.narrow(0, 0, n).unsqueeze(0).expand(batch, n, d));
        var resid = _hookResidPre.call(embed + pos);

        var q = _hookQ.call(einsum("bpd,hde->bphe", resid, _wQ) + _bQ);
        var k = _hookK.call(einsum("bpd,hde->bphe", resid, _wK) + _bK);
        var v = _hookV.call(einsum("bpd,hde->bphe", resid, _wV) + _bV);
        var scores = einsum("bqhe,bkhe->bhqk", q, k) / Math.Sqrt(Config.DHead);
        using (var future = ones(n, n, ScalarType.Bool, device: tokens.device).triu(1))
            scores = scores.masked_fill(future, double.NegativeInfinity);
        scores = _hookAttnScores.call(scores);
        var pattern = _hookPattern.call(scores.softmax(-1));
        var z = _hookZ.call(einsum("bhqk,bkhe->bqhe", pattern, v));
        var attnOut = _hookAttnOut.call(einsum("bqhe,hed->bqd", z, _wO) + _bO);
        var mid = _hookResidMid.call(resid + attnOut);

        var pre = _hookMlpPre.call(mid.matmul(_wIn) + _bIn);
        var post = _hookMlpPost.call(Activation(pre));
        var mlpOut = _hookMlpOut.call(post.matmul(_wOut) + _bOut);
        var residPost = _hookResidPost.call(mid + mlpOut);
        return _hookLogits.call(residPost.matmul(_wU) + _bU);
    }

    /// <summary>
    /// Training fast path: the logits at the last position only [batch, p], computing only what that position
    /// needs. The embedding, key and value of every (position, token) pair are computed once per call on the
    /// vocabulary (n_ctx · d_vocab rows, a few hundred) and gathered per sample; the query is needed at the last
    /// position only (no causal mask: the last position sees every position); the attention output, MLP and
    /// unembedding run on the last position only. Mathematically equal to <c>forward(tokens)[:, -1]</c> (equal
    /// up to float rounding); hooks do not fire, so it refuses to run while any are registered.
    /// </summary>
    public Tensor LastPositionLogits(Tensor tokens)
    {
        CheckTokens(tokens);
        if (ActiveHookCount > 0)
            throw new InvalidOperationException("the fast path does not fire hooks; use Run/forward while hooks are registered.");
        long batch = tokens.shape[0], n = tokens.shape[1];
        int vocab = Config.DVocab, heads = Config.NHeads, e = Config.DHead;
        var rows = _wE.unsqueeze(0) + _wPos.narrow(0, 0, n).unsqueeze(1);                   // [n, V, d]
        var keys = einsum("pvd,hde->pvhe", rows, _wK) + _bK;                                 // [n, V, h, e]
        var values = einsum("pvd,hde->pvhe", rows, _wV) + _bV;                               // [n, V, h, e]
        var last = rows[n - 1];                                                              // [V, d]
        var queries = einsum("vd,hde->vhe", last, _wQ) + _bQ;                                // [V, h, e]

        var lastTokens = tokens.select(1, n - 1);
        var flat = (tokens + arange(n, ScalarType.Int64, device: tokens.device).mul(vocab)).reshape(-1);
        var k = keys.reshape(n * vocab, heads, e).index_select(0, flat).view(batch, n, heads, e);
        var v = values.reshape(n * vocab, heads, e).index_select(0, flat).view(batch, n, heads, e);
        var q = queries.index_select(0, lastTokens);                                         // [b, h, e]
        var pattern = (einsum("bhe,bphe->bhp", q, k) / Math.Sqrt(e)).softmax(-1);           // [b, h, pos]
        var z = einsum("bhp,bphe->bhe", pattern, v);                                        // [b, h, e]
        var attnOut = z.reshape(batch, heads * e).matmul(_wO.reshape(heads * e, Config.DModel)) + _bO;
        var mid = last.index_select(0, lastTokens) + attnOut;
        var residPost = mid + Activation(mid.matmul(_wIn) + _bIn).matmul(_wOut) + _bOut;
        return residPost.matmul(_wU) + _bU;
    }

    Tensor Activation(Tensor x) => Config.ActFn == "gelu" ? nn.functional.gelu(x) : nn.functional.relu(x);

    void CheckTokens(Tensor tokens)
    {
        if (tokens.dtype != ScalarType.Int64 || tokens.dim() != 2 || tokens.shape[1] < 1 || tokens.shape[1] > Config.NCtx)
            throw new MechanistInputException(
                $"model '{ModelTypeId}' expects int64 tokens [batch, pos] with 1 <= pos <= {Config.NCtx} (\"a b =\" is [a, b, {Config.EqualsToken}]), " +
                $"got {tokens.dtype} {WeightFile.Shape(tokens.shape)}.");
        if (tokens.NumberOfElements > 0)
        {
            long min = tokens.min().item<long>(), max = tokens.max().item<long>();
            if (min < 0 || max >= Config.DVocab)
                throw new MechanistInputException(
                    $"model '{ModelTypeId}' takes tokens 0 … {Config.DVocab - 1} (residues 0 … {Config.P - 1}, {Config.EqualsToken} for \"=\"), got a token {(min < 0 ? min : max)}.");
        }
    }

    Parameter Weight(string name, string meaning, params long[] shape)
    {
        var p = new Parameter(zeros(shape, ScalarType.Float32, device: Device));
        register_parameter(name.Replace('.', '_'), p);
        _weights.Add(new ExpectedTensor(name, p, meaning));
        return p;
    }
}
