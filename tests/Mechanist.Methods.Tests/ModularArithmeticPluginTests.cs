using Mechanist.Host;
using Mechanist.Host.Models;
using Mechanist.Host.Running;
using Mechanist.IO;
using Mechanist.Methods.Analysis;
using Mechanist.Testing;
using Mechanist.Validators;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

/// <summary>
/// The sample's third-party validator, loaded only as a plugin: the Fourier mechanism of modular addition on the
/// shipped grokked model and on the memorising checkpoint of the same run.
/// </summary>
public class ModularArithmeticPluginTests
{
    const string PluginName = "Mechanist.Plugins.ModularArithmetic";
    static string Models => Path.Combine(Repo.Root, "samples", "models");

    static ValidationRun Validate(MechanistHost host, string model)
    {
        var runner = MethodRunner.For(host);
        var method = runner.Bind("modular-addition.fourier", MethodKind.Validator);
        using var loaded = ModelFolder.Load(Path.Combine(Models, model), host.Catalog, host.Services);
        return runner.Validate(method, (report, measure) => new ValidationContext(report, measure)
        {
            Options = method.Options, Model = loaded, MethodId = method.Id,
            Settings = new CheckSettings(new Dictionary<string, Severity> { ["MODA4001"] = Severity.Error, ["MODA4002"] = Severity.Error }),
        });
    }

    [Fact]
    public void Grokked_model_has_the_mechanism_and_the_memorising_checkpoint_does_not()
    {
        using var host = MechanistHost.Create([Repo.Plugin(PluginName)]);
        Assert.Empty(host.Catalog.LoadFindings);

        var grokked = Validate(host, "modular-addition");
        Assert.Empty(grokked.Findings);
        double Value(ValidationRun run, string id) => run.Measurements.First(m => m.Id == id).Value; // measured, and again with the finding

        // Independent: the share from the weight file's embedding (TransformerLens' embed.W_E, residue rows) through the
        // framework's own Fourier analysis, not through the plugin's hooks and basis.
        var weights = Safetensors.ReadHeader(Path.Combine(Models, "modular-addition", "model.safetensors"));
        using var embedding = Safetensors.ReadTensor(weights, "embed.W_E").narrow(0, 0, 113);
        var power = ModularFourier.FrequencyPower(embedding);
        var top6 = power.Skip(1).OrderDescending().Take(6).Sum() / power.Skip(1).Sum();
        Assert.Equal(top6, Value(grokked, "MODA4001"), 9);
        Assert.True(top6 > 0.95, $"{top6}");
        Assert.Equal(1.0, Value(grokked, "MODA4002"), 9);

        var memorising = Validate(host, "modular-addition-epoch-1000");
        Assert.Equal(["MODA4001", "MODA4002"], memorising.Findings.Select(f => f.Id).Order());
        Assert.All(memorising.Findings, f => Assert.Equal(Severity.Error, f.Severity));
        Assert.InRange(Value(memorising, "MODA4001"), 0.0, 0.4);
        Assert.InRange(Value(memorising, "MODA4002"), 0.0, 0.3);
    }
}
