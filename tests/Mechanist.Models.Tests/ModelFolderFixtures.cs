using System.Text.Json.Nodes;
using Mechanist.IO;
using Mechanist.Models.Serialization;
using static TorchSharp.torch;

namespace Mechanist.Models.Tests;

/// <summary>Helpers that damage a saved model folder in one specific way.</summary>
static class ModelFolderFixtures
{
    public static void EditConfig(string folder, Action<JsonObject> edit)
    {
        var config = ModelFolderLayout.ReadConfig(folder);
        edit(config);
        File.WriteAllText(ModelFolderLayout.ConfigPath(folder), config.ToJsonString());
    }

    public static void EditWeights(string folder, Action<Dictionary<string, Tensor>> edit)
    {
        var tensors = Safetensors.ReadAll(ModelFolderLayout.WeightsPath(folder));
        edit(tensors);
        Safetensors.Write(ModelFolderLayout.WeightsPath(folder), tensors);
    }

    /// <summary>Asserts that loading throws an input error whose message contains every fragment.</summary>
    public static MechanistInputException AssertRejected(Action load, params string[] fragments)
    {
        var e = Assert.Throws<MechanistInputException>(load);
        foreach (var f in fragments) Assert.Contains(f, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }
}
