using Mechanist.Discovery;
using Mechanist.Models;

namespace Mechanist.TestPlugins.Models;

/// <summary>A loader that always throws: the host must turn it into MECH0001.</summary>
[ModelLoader("test.throwing-model", Title = "Throwing loader", Summary = "Test fixture: Load always throws.",
    Reference = "Test fixture.", HelpLink = "tests/Fixtures/Mechanist.TestPlugins.Models/README.md")]
public sealed class ThrowingModelLoader : ModelLoader
{
    public override IHookedModel Load(ModelLoadContext context) => throw new InvalidOperationException("planted failure in Load");
}
