using Mechanist.Discovery;
using Mechanist.Models;
using Mechanist.Models.Architectures;

namespace Mechanist.Methods.ModelLoaders;

/// <summary>Loads a <c>model_type: "mlp"</c> folder as an <see cref="Mlp"/>.</summary>
[ModelLoader(Mlp.ModelTypeId,
    Title = "Plain multi-layer perceptron",
    Summary = "Linear layers of configurable sizes with ReLU or GELU between them, weights in PyTorch nn.Linear layout. Input float [batch, d_in]; hook sites hook_in, layers.{i}.hook_pre, layers.{i}.hook_post, hook_out.",
    Reference = "Rumelhart, Hinton, Williams 1986, Learning representations by back-propagating errors (Nature 323).",
    HelpLink = "docs/methods/mlp.md")]
public sealed class MlpLoader : ModelLoader
{
    public override IHookedModel Load(ModelLoadContext context) =>
        Mlp.FromFolder(context.Folder, context.Config, context.Device);
}
