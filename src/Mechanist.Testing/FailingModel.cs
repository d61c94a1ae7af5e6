using Mechanist.Models;
using static TorchSharp.torch;

namespace Mechanist.Testing;

/// <summary>
/// A model whose forward pass throws after its hooks are in place: a method must still remove every hook it added
/// (Captum's rule: no hook left behind, even on error). Everything else is the inner model's.
/// </summary>
internal sealed class FailingModel(ILanguageModel inner) : ILanguageModel, ITokenizedModel
{
    public string ModelType => inner.ModelType;
    public IReadOnlyList<string> HookSites => inner.HookSites;
    public int VocabSize => inner.VocabSize;
    public int ContextLength => inner.ContextLength;
    public Func<long, string>? TokenText => (inner as ITokenizedModel)?.TokenText;
    public int ActiveHookCount => inner.ActiveHookCount;

    public Tensor Run(Tensor input) => throw new InvalidOperationException("planted failure in the model's forward pass (the verifier checks that no hook is left behind)");

    public IDisposable AddHook(string site, Func<Tensor, Tensor?> hook) => inner.AddHook(site, hook);

    public void Dispose() { }
}
