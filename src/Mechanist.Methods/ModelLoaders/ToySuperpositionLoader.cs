using Mechanist.Discovery;
using Mechanist.Models;
using Mechanist.Models.Architectures;

namespace Mechanist.Methods.ModelLoaders;

/// <summary>Loads a <c>model_type: "toy-superposition"</c> folder as a <see cref="ToySuperposition"/>.</summary>
[ModelLoader(ToySuperposition.ModelTypeId,
    Title = "Toy model of superposition",
    Summary = "x' = ReLU(W^T W x + b) with W [n_hidden, n_features]: sparse features squeezed through fewer hidden dimensions. Input and output float [batch, n_features]; hook sites hook_hidden, hook_pre, hook_out.",
    Reference = "Elhage et al. 2022, Toy Models of Superposition (Transformer Circuits Thread).",
    HelpLink = "docs/methods/toy-superposition.md")]
public sealed class ToySuperpositionLoader : ModelLoader
{
    public override IHookedModel Load(ModelLoadContext context) =>
        ToySuperposition.FromFolder(context.Folder, context.Config, context.Device);
}
