using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Models.Runtime;

/// <summary>
/// An identity module at a named site (TransformerLens style). Hooks registered on it see the activation as it
/// passes and may replace it. Hooks run inside <see cref="forward"/>, so they fire however the module is invoked.
/// </summary>
public sealed class HookPoint : nn.Module<Tensor, Tensor>
{
    readonly List<Func<Tensor, Tensor?>> _hooks = [];

    public HookPoint(string site) : base(site) => Site = site;

    /// <summary>The TransformerLens name of this site (<c>blocks.0.hook_resid_pre</c>, …).</summary>
    public string Site { get; }

    public int HookCount => _hooks.Count;

    public override Tensor forward(Tensor x)
    {
        foreach (var hook in _hooks.ToArray())
        {
            var replacement = hook(x);
            if (replacement is not null)
            {
                if (!replacement.shape.SequenceEqual(x.shape))
                    throw new InvalidOperationException(
                        $"a hook at {Site} returned shape [{string.Join(", ", replacement.shape)}] for an activation of shape [{string.Join(", ", x.shape)}].");
                x = replacement;
            }
        }
        return x;
    }

    internal IDisposable Add(Func<Tensor, Tensor?> hook)
    {
        _hooks.Add(hook);
        return new Removal(this, hook);
    }

    sealed class Removal(HookPoint point, Func<Tensor, Tensor?> hook) : IDisposable
    {
        bool _removed;

        public void Dispose()
        {
            if (_removed) return;
            point._hooks.Remove(hook);
            _removed = true;
        }
    }
}
