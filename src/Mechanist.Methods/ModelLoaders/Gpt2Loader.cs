using Mechanist.Discovery;
using Mechanist.Models;
using Mechanist.Models.Architectures;

namespace Mechanist.Methods.ModelLoaders;

/// <summary>Loads a Hugging Face GPT-2 folder (<c>config.json</c> with <c>model_type</c> "gpt2" + <c>model.safetensors</c>) as a hooked model.</summary>
[ModelLoader(Gpt2Config.ModelTypeName,
    Title = "GPT-2 (Hugging Face layout)",
    Summary = "GPT-2 family checkpoints as saved by Hugging Face transformers: config.json + model.safetensors with GPT2Model or GPT2LMHeadModel tensor names, Conv1D weights [in, out], tied unembedding, GELU (tanh). Hook sites use TransformerLens names.",
    Reference = "Radford et al. 2019, Language Models are Unsupervised Multitask Learners; Hugging Face transformers GPT2LMHeadModel.",
    HelpLink = "docs/methods/gpt2.md")]
public sealed class Gpt2Loader : ModelLoader
{
    public override IHookedModel Load(ModelLoadContext context) =>
        Gpt2Model.Load(context.Folder, context.Config, context.Device);
}
