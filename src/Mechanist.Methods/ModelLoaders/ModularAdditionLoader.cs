using Mechanist.Discovery;
using Mechanist.Models;
using Mechanist.Models.Architectures;

namespace Mechanist.Methods.ModelLoaders;

/// <summary>Loads a <c>model_type: "modular-addition"</c> folder as a <see cref="ModularAdditionTransformer"/>.</summary>
[ModelLoader(ModularAdditionTransformer.ModelTypeId,
    Title = "One-layer modular-addition transformer",
    Summary = "The grokking transformer of Nanda et al.: inputs \"a b =\" (int64 tokens [batch, 3], token p is \"=\"), one attention layer and a ReLU MLP without LayerNorm, logits over the p residues. TransformerLens weight names and hook sites.",
    Reference = "Nanda, Chan, Lieberum, Smith, Steinhardt 2023, Progress measures for grokking via mechanistic interpretability (ICLR).",
    HelpLink = "docs/methods/modular-addition.md")]
public sealed class ModularAdditionLoader : ModelLoader
{
    public override IHookedModel Load(ModelLoadContext context) =>
        ModularAdditionTransformer.FromFolder(context.Folder, context.Config, context.Device);
}
