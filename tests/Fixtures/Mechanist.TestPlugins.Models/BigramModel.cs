using Mechanist.Models;
using static TorchSharp.torch;

namespace Mechanist.TestPlugins.Models;

/// <summary>
/// A bigram language model, logits = embed[token] · unembed, implementing the hook contract itself (it cannot use the
/// built-in HookedModel: a plugin sees only the contracts). Sites: <c>hook_embed</c>, <c>unembed.hook_out</c>.
/// </summary>
public sealed class BigramModel : ILanguageModel
{
    readonly Tensor _embed;
    readonly Tensor _unembed;
    readonly Dictionary<string, List<Func<Tensor, Tensor?>>> _hooks = new()
    {
        ["hook_embed"] = [],
        ["unembed.hook_out"] = [],
    };

    public BigramModel(Tensor embed, Tensor unembed, int positions, Device device)
    {
        _embed = embed.to(ScalarType.Float32, device).DetachFromDisposeScope();
        _unembed = unembed.to(ScalarType.Float32, device).DetachFromDisposeScope();
        ContextLength = positions;
    }

    public string ModelType => BigramLoader.Id;

    public IReadOnlyList<string> HookSites { get; } = ["hook_embed", "unembed.hook_out"];

    public int VocabSize => (int)_embed.shape[0];

    public int ContextLength { get; }

    public int ActiveHookCount => _hooks.Values.Sum(h => h.Count);

    public Tensor Run(Tensor input)
    {
        var ids = input.to(ScalarType.Int64, _embed.device);
        var x = Fire("hook_embed", _embed.index_select(0, ids.flatten()).reshape(ids.shape[0], ids.shape[1], _embed.shape[1]));
        return Fire("unembed.hook_out", x.matmul(_unembed));
    }

    Tensor Fire(string site, Tensor x)
    {
        foreach (var hook in _hooks[site].ToArray())
            x = hook(x) ?? x;
        return x;
    }

    public IDisposable AddHook(string site, Func<Tensor, Tensor?> hook)
    {
        if (!_hooks.TryGetValue(site, out var list))
            throw new MechanistInputException($"model '{ModelType}' has no hook site '{site}'.");
        list.Add(hook);
        return new Removal(() => list.Remove(hook));
    }

    public void Dispose()
    {
        _embed.Dispose();
        _unembed.Dispose();
    }

    sealed class Removal(Action remove) : IDisposable
    {
        Action? _remove = remove;

        public void Dispose()
        {
            _remove?.Invoke();
            _remove = null;
        }
    }
}
