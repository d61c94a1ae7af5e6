using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.IO;

namespace Mechanist.Models.Serialization;

/// <summary>
/// The files of a model folder as Mechanist's own architectures write and read them: <c>config.json</c> (with
/// <c>model_type</c>) plus <c>model.safetensors</c>, the same pattern Hugging Face uses. Loading a folder through the
/// model loader its <c>model_type</c> names is the host's <c>ModelFolder</c>.
/// </summary>
public static class ModelFolderLayout
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes a complete model folder atomically: built under a temporary name, then renamed into place.</summary>
    public static void SaveFolder(string folder, JsonObject config, IEnumerable<(string Name, TorchSharp.torch.Tensor Value)> weights) =>
        AtomicFile.WriteDirectory(folder, temp => WriteInto(temp, config, weights));

    /// <summary>
    /// Writes <c>config.json</c> and <c>model.safetensors</c> into an existing folder, each file atomically
    /// (used where the folder holds other files, such as a training run's checkpoint and log).
    /// </summary>
    public static void WriteInto(string folder, JsonObject config, IEnumerable<(string Name, TorchSharp.torch.Tensor Value)> weights)
    {
        WeightFile.Save(Path.Combine(folder, WeightsFile), weights);
        AtomicFile.WriteText(Path.Combine(folder, ConfigFile), config.ToJsonString(Indented) + "\n");
    }

    /// <summary>Reads <c>config.json</c> of a model folder (errors name the file).</summary>
    public static JsonObject ReadConfig(string folder)
    {
        if (!Directory.Exists(folder))
            throw new MechanistInputException($"{folder}: model folder not found (expected a folder with {ConfigFile} and {WeightsFile}).");
        return ConfigReader.ReadFile(Path.Combine(folder, ConfigFile));
    }

    public static string WeightsPath(string folder) => Path.Combine(folder, WeightsFile);

    public static string ConfigPath(string folder) => Path.Combine(folder, ConfigFile);
}
