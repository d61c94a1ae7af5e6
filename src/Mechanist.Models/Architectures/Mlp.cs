using System.Text.Json.Nodes;
using Mechanist.Models.Runtime;
using Mechanist.Models.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Mechanist.Models.Architectures;

/// <summary>
/// A plain multi-layer perceptron: y = L_{n−1}(σ(… σ(L_0(x)))), L_i(x) = x W_iᵀ + b_i. Weights are stored in
/// PyTorch <c>nn.Linear</c> layout (<c>layers.{i}.weight</c> [out, in], <c>layers.{i}.bias</c> [out]).
/// Input: float [batch, d_in]; output: float [batch, d_out].
/// Hook sites: <c>hook_in</c> (the input), <c>layers.{i}.hook_pre</c> (L_i's output), <c>layers.{i}.hook_post</c>
/// (after the activation; hidden layers only) and <c>hook_out</c> (the output).
/// </summary>
public sealed class Mlp : HookedModel
{
    public const string ModelTypeId = "mlp";

    readonly List<(Parameter Weight, Parameter Bias)> _layers = [];
    readonly List<ExpectedTensor> _weights = [];
    readonly HookPoint _hookIn, _hookOut;
    readonly List<(HookPoint Pre, HookPoint? Post)> _layerHooks = [];

    Mlp(MlpConfig config, Device device) : base(ModelTypeId)
    {
        config.Validate();
        Config = config;
        _hookIn = Site("hook_in");
        for (int i = 0; i < config.Layers; i++)
        {
            int fanIn = config.LayerSizes[i], fanOut = config.LayerSizes[i + 1];
            var w = Weight($"layers.{i}.weight", $"layer_sizes[{i + 1}], layer_sizes[{i}]", device, fanOut, fanIn);
            var b = Weight($"layers.{i}.bias", $"layer_sizes[{i + 1}]", device, fanOut);
            _layers.Add((w, b));
            var pre = Site($"layers.{i}.hook_pre");
            var post = i < config.Layers - 1 ? Site($"layers.{i}.hook_post") : null;
            _layerHooks.Add((pre, post));
        }
        _hookOut = Site("hook_out");
    }

    public override string ModelType => ModelTypeId;

    public MlpConfig Config { get; }

    public IReadOnlyList<(string Name, Parameter Value)> Weights => _weights.Select(w => (w.Name, (Parameter)w.Target)).ToList();

    /// <summary>PyTorch's <c>nn.Linear</c> initialisation: weight and bias uniform in ±1/√fan_in.</summary>
    public static Mlp Create(MlpConfig config, int seed, Device? device = null)
    {
        var model = new Mlp(config, device ?? CPU);
        var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        for (int i = 0; i < model._layers.Count; i++)
        {
            double bound = 1.0 / Math.Sqrt(config.LayerSizes[i]);
            var (w, b) = model._layers[i];
            using var wv = rand(w.shape, generator: generator) * (2 * bound) - bound;
            using var bv = rand(b.shape, generator: generator) * (2 * bound) - bound;
            w.copy_(wv);
            b.copy_(bv);
        }
        return model;
    }

    public static Mlp Load(string folder, Device? device = null) => FromFolder(folder, ModelFolderLayout.ReadConfig(folder), device);

    public static Mlp FromFolder(string folder, JsonObject config, Device? device = null)
    {
        var parsed = MlpConfig.FromJson(config, ModelFolderLayout.ConfigPath(folder));
        var sizes = parsed.LayerSizes.Select(s => (long)s).ToList();
        WeightFile.RequireRoomFor(ModelFolderLayout.WeightsPath(folder),
            WeightFile.CountElements(sizes.Zip(sizes.Skip(1), (a, b) => new[] { a + 1, b }).ToArray()), 4, ModelFolderLayout.ConfigPath(folder));
        var model = new Mlp(parsed, device ?? CPU);
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

    public override Tensor forward(Tensor x)
    {
        int dIn = Config.LayerSizes[0];
        if (!x.is_floating_point() || x.dim() != 2 || x.shape[1] != dIn)
            throw new MechanistInputException($"model '{ModelTypeId}' expects float inputs [batch, {dIn}], got {x.dtype} {WeightFile.Shape(x.shape)}.");
        var h = _hookIn.call(x.to(ScalarType.Float32));
        for (int i = 0; i < _layers.Count; i++)
        {
            var (w, b) = _layers[i];
            var (pre, post) = _layerHooks[i];
            h = pre.call(nn.functional.linear(h, w, b));
            if (post is not null) h = post.call(Config.Activation == "gelu" ? nn.functional.gelu(h) : nn.functional.relu(h));
        }
        return _hookOut.call(h);
    }

    Parameter Weight(string name, string meaning, Device device, params long[] shape)
    {
        var p = new Parameter(zeros(shape, ScalarType.Float32, device: device));
        register_parameter(name.Replace('.', '_'), p);
        _weights.Add(new ExpectedTensor(name, p, meaning));
        return p;
    }
}
