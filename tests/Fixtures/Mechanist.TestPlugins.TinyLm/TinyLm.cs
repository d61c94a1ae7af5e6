using Mechanist.Discovery;
using Mechanist.IO;
using Mechanist.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.TestPlugins.TinyLm;

/// <summary>
/// Loads <c>model_type: "test-tiny-lm"</c>: config.json (<c>vocab_size</c>, <c>d_model</c>, <c>n_ctx</c>, <c>d_mlp</c>)
/// and model.safetensors (<c>embed.W_E</c>, <c>pos_embed.W_pos</c>, <c>blocks.0.mlp.W_in</c>, <c>blocks.0.mlp.W_out</c>,
/// <c>unembed.W_U</c>, TransformerLens names).
/// </summary>
[ModelLoader("test-tiny-lm", Title = "Tiny token model (test fixture)", Summary = "Test fixture: embedding, a causal mean, a ReLU MLP and an unembedding, with TransformerLens hook names.")]
public sealed class TinyLmLoader : ModelLoader
{
    public override IHookedModel Load(ModelLoadContext context)
    {
        var weights = Safetensors.ReadAll(Path.Combine(context.Folder, "model.safetensors"));
        return new TinyLm(weights);
    }
}

/// <summary>An <see cref="IHookedModel"/> written without the framework's runtime: hooks kept in a dictionary.</summary>
public sealed class TinyLm : nn.Module<Tensor, Tensor>, IHookedModel, IEmbeddingModel
{
    static readonly string[] Sites =
        ["hook_embed", "hook_pos_embed", "blocks.0.hook_resid_pre", "blocks.0.hook_attn_out", "blocks.0.mlp.hook_pre",
         "blocks.0.mlp.hook_post", "blocks.0.hook_resid_post"];

    readonly Dictionary<string, List<Func<Tensor, Tensor?>>> _hooks = Sites.ToDictionary(s => s, _ => new List<Func<Tensor, Tensor?>>());
    readonly TorchSharp.Modules.Parameter wE, wPos, wIn, wOut, wU;

    public TinyLm(IReadOnlyDictionary<string, Tensor> weights) : base("tiny-lm")
    {
        TorchSharp.Modules.Parameter P(string name) => new(weights[name], requires_grad: false);
        wE = P("embed.W_E");
        wPos = P("pos_embed.W_pos");
        wIn = P("blocks.0.mlp.W_in");
        wOut = P("blocks.0.mlp.W_out");
        wU = P("unembed.W_U");
        RegisterComponents();
    }

    public string ModelType => "test-tiny-lm";

    public Tensor? TokenEmbedding() => wE.detach().clone();

    public Tensor? Unembedding(string? site) => site == "blocks.0.mlp.hook_post" ? wOut.detach().matmul(wU.detach()) : wU.detach().clone();

    public IReadOnlyList<string> HookSites => Sites;

    public int ActiveHookCount => _hooks.Values.Sum(h => h.Count);

    public Tensor Run(Tensor input) => forward(input);

    public IDisposable AddHook(string site, Func<Tensor, Tensor?> hook)
    {
        if (!_hooks.TryGetValue(site, out var list)) throw new MechanistInputException($"tiny-lm has no hook site '{site}'.");
        list.Add(hook);
        return new Removal(() => list.Remove(hook));
    }

    Tensor Hook(string site, Tensor x)
    {
        foreach (var h in _hooks[site].ToArray()) x = h(x) ?? x;
        return x;
    }

    public override Tensor forward(Tensor tokens)
    {
        long batch = tokens.shape[0], length = tokens.shape[1];
        var embed = Hook("hook_embed", wE.index_select(0, tokens.reshape(-1)).reshape(batch, length, -1));
        var pos = Hook("hook_pos_embed", wPos.narrow(0, 0, length).unsqueeze(0).expand(batch, length, -1));
        var resid = Hook("blocks.0.hook_resid_pre", embed + pos);
        var counts = arange(1, length + 1, dtype: resid.dtype, device: resid.device).view(1, -1, 1);
        var attn = Hook("blocks.0.hook_attn_out", resid.cumsum(1) / counts);
        var mid = resid + attn;
        var pre = Hook("blocks.0.mlp.hook_pre", mid.matmul(wIn));
        var post = Hook("blocks.0.mlp.hook_post", nn.functional.relu(pre));
        var outResid = Hook("blocks.0.hook_resid_post", mid + post.matmul(wOut));
        return outResid.matmul(wU);
    }

    sealed class Removal(Action remove) : IDisposable
    {
        bool _done;

        public void Dispose()
        {
            if (_done) return;
            remove();
            _done = true;
        }
    }
}
