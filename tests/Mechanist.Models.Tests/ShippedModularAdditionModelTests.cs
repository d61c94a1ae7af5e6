using System.Text.Json.Nodes;
using Mechanist.Models.Architectures;
using Mechanist.Models.Training;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Models.Tests;

/// <summary>
/// The model shipped in <c>samples/models/modular-addition</c> (the default p = 113 run) is checked independently
/// of the trainer that produced it: its accuracy through the full forward pass, and the Fourier structure that
/// Nanda et al. found in grokked models.
/// </summary>
public class ShippedModularAdditionModelTests
{
    static readonly string Folder = Path.Combine(Repo.Root, "samples", "models", "modular-addition");

    static JsonNode Metrics => JsonNode.Parse(File.ReadAllText(Path.Combine(Folder, "metrics.json")))!;

    [Fact]
    public void Held_out_accuracy_through_the_full_forward_pass_is_what_metrics_json_says()
    {
        var metrics = Metrics;
        var options = metrics["options"]!;
        int p = (int)options["p"]!, seed = (int)options["seed"]!;
        int nTrain = ModularAdditionData.TrainCount(p, (double)options["train_fraction"]!);
        using var model = ModularAdditionTransformer.Load(Folder);
        Assert.Equal(p, model.Config.P);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var permutation = ModularAdditionData.SplitPermutation(p, seed + 1);
        var test = permutation.narrow(0, nTrain, p * p - nTrain);
        var predictions = model.Run(ModularAdditionData.Tokens(p).index_select(0, test)).select(1, 2).argmax(-1);
        double accuracy = predictions.eq(ModularAdditionData.Labels(p).index_select(0, test)).to(ScalarType.Float64).mean().item<double>();

        Assert.Equal((double)metrics["final"]!["test_accuracy"]!, accuracy, 1.5 / (p * p - nTrain));
        Assert.True(accuracy >= 0.99, $"held-out accuracy {accuracy}");
        Assert.True((int)metrics["test_accuracy_99_epoch"]! > (int)metrics["train_accuracy_99_epoch"]!, "grokking: held-out after train");
    }

    /// <summary>Share of the embedding's squared norm (constant term excluded) carried by each frequency k = 1 … (p − 1)/2.</summary>
    internal static double[] FourierShares(Tensor embedding, int p)
    {
        using var scope = NewDisposeScope();
        var e = embedding.narrow(0, 0, p).to(ScalarType.Float64);                       // residues only, not "="
        var a = arange(p, ScalarType.Float64);
        var shares = new double[(p - 1) / 2];
        var energies = new List<double>();
        for (int k = 1; k <= (p - 1) / 2; k++)
        {
            var cos = (a * (2 * Math.PI * k / p)).cos() * Math.Sqrt(2.0 / p);
            var sin = (a * (2 * Math.PI * k / p)).sin() * Math.Sqrt(2.0 / p);
            energies.Add(cos.matmul(e).square().sum().item<double>() + sin.matmul(e).square().sum().item<double>());
        }
        double total = energies.Sum();
        return energies.Select(x => x / total).ToArray();
    }

    [Fact]
    public void The_embedding_is_sparse_in_the_Fourier_basis()
    {
        using var model = ModularAdditionTransformer.Load(Folder);
        var shares = FourierShares(model.Weights.Single(w => w.Name == "embed.W_E").Value.detach(), model.Config.P);
        double topSix = shares.OrderDescending().Take(6).Sum();
        Assert.True(topSix > 0.9, $"six key frequencies carry {topSix:P1} of the embedding");

        // The same measure on the untrained initialisation spreads over all 56 frequencies.
        using var untrained = ModularAdditionTransformer.Create(model.Config, 0);
        double untrainedTopSix = FourierShares(untrained.Weights.Single(w => w.Name == "embed.W_E").Value.detach(), model.Config.P).OrderDescending().Take(6).Sum();
        Assert.True(untrainedTopSix < 0.3, $"untrained: {untrainedTopSix:P1}");
    }
}
