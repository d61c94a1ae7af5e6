using System.Text.Json.Nodes;
using Mechanist.Host.Discovery;
using Mechanist.Host.Running;
using Mechanist.Models;
using Mechanist.Models.Runtime;
using static TorchSharp.torch;

namespace Mechanist.Host.Models;

/// <summary>
/// Opens a model folder (<c>config.json</c> + <c>model.safetensors</c>, DESIGN §5) through the model loader whose ID is
/// the config's <c>model_type</c> — built-in or from a plugin, found the same way.
/// </summary>
public static class ModelFolder
{
    public const string ConfigFile = ModelConfig.FileName;

    /// <summary>
    /// Reads <c>config.json</c>, resolves its <c>model_type</c> in <paramref name="catalog"/> (an unknown type is
    /// input error MECH0003 listing the known types), and loads the model onto <paramref name="device"/>. A loader
    /// that throws anything but an input error becomes MECH0001.
    /// </summary>
    public static IHookedModel Load(string folder, MethodCatalog catalog, IServiceProvider services, Device? device = null, int seed = 0)
    {
        var (config, modelType) = ReadConfig(folder);
        return new MethodRunner(catalog, services).LoadModel(folder, config, modelType, device ?? CPU, seed);
    }

    /// <summary>The folder's parsed <c>config.json</c> and its <c>model_type</c>; input errors name the file.</summary>
    public static (JsonObject Config, string ModelType) ReadConfig(string folder)
    {
        if (!Directory.Exists(folder))
            throw new MechanistInputException(File.Exists(folder)
                ? $"{folder}: expected a model folder (config.json + model.safetensors), got a file."
                : $"{folder}: model folder not found.");
        var configPath = Path.Combine(folder, ConfigFile);
        var config = ModelConfig.Read(configPath);
        var modelType = config["model_type"] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s
            : throw new MechanistInputException($"{configPath}: missing 'model_type' (a string naming the architecture, e.g. \"gpt2\").");
        return (config, modelType);
    }
}
