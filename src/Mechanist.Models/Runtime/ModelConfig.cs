using System.Text.Json.Nodes;

namespace Mechanist.Models.Runtime;

/// <summary>Reading a model folder's <c>config.json</c>.</summary>
public static class ModelConfig
{
    public const string FileName = "config.json";

    /// <summary>The file as a JSON object; a missing file or bad JSON is an input error naming the file.</summary>
    public static JsonObject Read(string path)
    {
        if (!File.Exists(path))
            throw new MechanistInputException($"{path}: file not found; a model folder holds config.json and model.safetensors.");
        return Mechanist.IO.JsonFile.ReadObject(path, "model config");
    }
}
