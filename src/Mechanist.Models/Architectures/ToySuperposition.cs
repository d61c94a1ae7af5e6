using System.Text.Json.Nodes;
using Mechanist.Models.Runtime;
using Mechanist.Models.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Mechanist.Models.Architectures;

/// <summary>
/// The toy model of superposition of Elhage et al. (2022), "Toy Models of Superposition": x' = ReLU(WᵀW x + b)
/// with W [n_hidden, n_features] (column i is feature i's direction in the hidden space) and b [n_features].
/// Trained with an importance-weighted MSE on sparse inputs, it represents more features than it has hidden
/// dimensions once the inputs are sparse enough. Tensor names follow the paper's notebook (<c>W</c>,
/// <c>b_final</c>). Input: float [batch, n_features]; output: float [batch, n_features].
/// Hook sites: <c>hook_hidden</c> (h = Wx) [batch, n_hidden], <c>hook_pre</c> (WᵀWx + b) and <c>hook_out</c>
/// (after the ReLU) [batch, n_features].
/// </summary>
public sealed class ToySuperposition : HookedModel
{
    public const string ModelTypeId = "toy-superposition";

    readonly Parameter _w, _b;
    readonly List<ExpectedTensor> _weights = [];
    readonly HookPoint _hookHidden, _hookPre, _hookOut;

    ToySuperposition(ToySuperpositionConfig config, Device device) : base(ModelTypeId)
    {
        config.Validate();
        Config = config;
        _w = Weight("W", "n_hidden, n_features", device, config.NHidden, config.NFeatures);
        _b = Weight("b_final", "n_features", device, config.NFeatures);
        _hookHidden = Site("hook_hidden");
        _hookPre = Site("hook_pre");
        _hookOut = Site("hook_out");
    }

    public override string ModelType => ModelTypeId;

    public ToySuperpositionConfig Config { get; }

    /// <summary>W [n_hidden, n_features].</summary>
    public Parameter W => _w;

    /// <summary>b [n_features].</summary>
    public Parameter B => _b;

    public IReadOnlyList<(string Name, Parameter Value)> Weights => _weights.Select(w => (w.Name, (Parameter)w.Target)).ToList();

    /// <summary>The paper's initialisation: W Xavier-normal (std √(2 / (n_hidden + n_features))), b zero.</summary>
    public static ToySuperposition Create(ToySuperpositionConfig config, int seed, Device? device = null)
    {
        var model = new ToySuperposition(config, device ?? CPU);
        var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        using var w = randn(model._w.shape, generator: generator) * Math.Sqrt(2.0 / (config.NHidden + config.NFeatures));
        model._w.copy_(w);
        return model;
    }

    public static ToySuperposition Load(string folder, Device? device = null) => FromFolder(folder, ModelFolderLayout.ReadConfig(folder), device);

    public static ToySuperposition FromFolder(string folder, JsonObject config, Device? device = null)
    {
        var parsed = ToySuperpositionConfig.FromJson(config, ModelFolderLayout.ConfigPath(folder));
        WeightFile.RequireRoomFor(ModelFolderLayout.WeightsPath(folder),
            WeightFile.CountElements([parsed.NHidden + 1L, parsed.NFeatures]), 4, ModelFolderLayout.ConfigPath(folder));
        var model = new ToySuperposition(parsed, device ?? CPU);
        try
        {
            WeightFile.Load(ModelFolderLayout.WeightsPath(folder), model._weights);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public void Save(string folder) => ModelFolderLayout.SaveFolder(folder, Config.ToJson(), Weights.Select(w => (w.Name, (Tensor)w.Value)));

    /// <summary>Writes the model files into an existing (temporary) folder.</summary>
    public void WriteInto(string folder) => ModelFolderLayout.WriteInto(folder, Config.ToJson(), Weights.Select(w => (w.Name, (Tensor)w.Value)));

    public override Tensor forward(Tensor x)
    {
        if (!x.is_floating_point() || x.dim() != 2 || x.shape[1] != Config.NFeatures)
            throw new MechanistInputException(
                $"model '{ModelTypeId}' expects float inputs [batch, {Config.NFeatures}], got {x.dtype} {WeightFile.Shape(x.shape)}.");
        var hidden = _hookHidden.call(x.to(_w.dtype).matmul(_w.t()));
        var pre = _hookPre.call(hidden.matmul(_w) + _b);
        return _hookOut.call(nn.functional.relu(pre));
    }

    Parameter Weight(string name, string meaning, Device device, params long[] shape)
    {
        var p = new Parameter(zeros(shape, ScalarType.Float32, device: device));
        register_parameter(name, p);
        _weights.Add(new ExpectedTensor(name, p, meaning));
        return p;
    }
}
