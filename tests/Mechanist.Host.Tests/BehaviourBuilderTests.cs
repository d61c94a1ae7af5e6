using System.Text;
using Mechanist.Host.Gate;
using Mechanist.Host.Configuration;
using Mechanist.Models.Architectures;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Host.Tests;

/// <summary>Behaviours from mechanist.json: task inputs with labels, corruption rules, per-example metrics.</summary>
public sealed class BehaviourBuilderTests
{
    static string Model => Path.Combine(Repo.Root, "samples", "models", "modular-addition");

    static CheckConfig Parse(string json) => CheckConfigReader.Parse(Encoding.UTF8.GetBytes(json), "/configs/mechanist.json");

    [Fact]
    public void Held_out_pairs_the_label_metric_and_a_resampled_operand()
    {
        var config = Parse("""
            {
              "behaviours": {
                "answer": {
                  "inputs": { "task": "modular-addition", "options": { "split": "held_out", "samples": 64 } },
                  "corrupted": { "rule": "resample", "position": 1 },
                  "metric": "logit-diff", "target": "label", "contrast": "corrupted-label"
                }
              }
            }
            """);
        using var model = ModularAdditionTransformer.Load(Model);
        var problems = new ProblemList(config.Path, config.Positions);
        var prepared = BehaviourBuilder.Build(config.Behaviours[0], null, model, CPU, seed: 0, problems, d => ModelInputs.Load(d, model, 0));
        Assert.Empty(problems.Problems);
        var b = prepared!.Behaviour;
        Assert.Equal([64, 3], b.Input.shape);

        // Held out: none of the pairs is among the first 3830 of the trainer's split (seed 1).
        using var permutation = Mechanist.Models.Training.ModularAdditionData.SplitPermutation(113, 1);
        var train = permutation.data<long>().Take(3830).ToHashSet();
        var x = b.Input.data<long>().ToArray();
        for (int i = 0; i < 64; i++) Assert.DoesNotContain(x[3 * i] * 113 + x[3 * i + 1], train);

        // The corrupted inputs: the same a and '=', b taken from another pair (a permutation of the b's).
        var c = b.Corrupted!.data<long>().ToArray();
        Assert.All(Enumerable.Range(0, 64), i => Assert.Equal((x[3 * i], x[3 * i + 2]), (c[3 * i], c[3 * i + 2])));
        Assert.Equal(Enumerable.Range(0, 64).Select(i => x[3 * i + 1]).Order(), Enumerable.Range(0, 64).Select(i => c[3 * i + 1]).Order());

        // The metric, against logits read by hand: logit[(a + b) mod p] − logit[(a + b') mod p] at the last position.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = model.Run(b.Input);
        var expected = Enumerable.Range(0, 64).Select(i =>
            logits[i, 2, (x[3 * i] + x[3 * i + 1]) % 113].item<float>() - logits[i, 2, (c[3 * i] + c[3 * i + 1]) % 113].item<float>()).ToArray();
        Assert.Equal(expected, b.Metric(logits).data<float>().ToArray());
        // Per example: rows of any examples in any order, as integration steps and patched copies ask.
        var examples = tensor(new long[] { 5, 0, 63, 5 });
        var rows = model.Run(b.Input.index_select(0, examples));
        Assert.Equal(new[] { expected[5], expected[0], expected[63], expected[5] }, b.ExampleMetric!(rows, examples).data<float>().ToArray());
        // The plain metric refuses rows it cannot match with their labels.
        Assert.Throws<MechanistInputException>(() => b.Metric(rows));
    }

    [Fact]
    public void A_constant_target_fits_any_batch_and_accuracy_counts_correct_answers()
    {
        var config = Parse("""
            {
              "dataset": { "task": "modular-addition", "options": { "samples": 50 } },
              "behaviours": { "seven": { "metric": "prob", "target": 7 }, "right": { "metric": "accuracy", "target": "label" } }
            }
            """);
        using var model = ModularAdditionTransformer.Load(Model);
        var problems = new ProblemList(config.Path, config.Positions);
        var dataset = ModelInputs.Load(config.Dataset!, model, 0);
        var seven = BehaviourBuilder.Build(config.Behaviours[0], dataset, model, CPU, 0, problems, d => ModelInputs.Load(d, model, 0))!.Behaviour;
        var right = BehaviourBuilder.Build(config.Behaviours[1], dataset, model, CPU, 0, problems, d => ModelInputs.Load(d, model, 0))!.Behaviour;
        Assert.Empty(problems.Problems);
        using var noGrad = no_grad();
        var logits = model.Run(seven.Input);
        var doubled = cat([logits, logits], 0);
        Assert.Equal(100, seven.Metric(doubled).shape[0]);
        Assert.Equal(logits.select(1, 2).softmax(1).select(1, 7).data<float>().ToArray(), seven.Metric(logits).data<float>().ToArray());
        Assert.Equal(1.0, right.Metric(logits).mean().item<float>(), 6); // the grokked model answers every pair
    }

    [Fact]
    public void A_token_string_is_one_GPT2_token_of_a_GPT2_vocabulary_model()
    {
        using var temp = new TempDir();
        File.WriteAllText(temp.File("prompts.jsonl"), "[464, 3139, 286, 4881, 318]\n[464, 3139, 286, 4486, 318]\n");
        var config = CheckConfigReader.Parse(Encoding.UTF8.GetBytes("""
            {
              "behaviours": {
                "paris": { "inputs": "prompts.jsonl", "metric": "logprob", "target": " Paris" },
                "two": { "inputs": "prompts.jsonl", "metric": "logit", "target": " Hello world" }
              }
            }
            """), temp.File("mechanist.json"));
        using var model = Mechanist.Models.Architectures.Gpt2Model.CreateRandom(
            new Mechanist.Models.Architectures.Gpt2Config { NLayer = 1, NEmbd = 8, NHead = 2, VocabSize = 50257, NPositions = 8 }, 3);
        var problems = new ProblemList(config.Path, config.Positions);
        var paris = BehaviourBuilder.Build(config.Behaviours[0], null, model, CPU, 0, problems, d => ModelInputs.Load(d, model, 0))!.Behaviour;
        Assert.Empty(problems.Problems);
        int id = Mechanist.Models.Text.Gpt2Tokenizer.Encode(" Paris").Single();
        using var noGrad = no_grad();
        var logits = model.Run(paris.Input);
        Assert.Equal(logits.select(1, 4).log_softmax(1).select(1, id).data<float>().ToArray(), paris.Metric(logits).data<float>().ToArray());
        Assert.Null(BehaviourBuilder.Build(config.Behaviours[1], null, model, CPU, 0, problems, d => ModelInputs.Load(d, model, 0)));
        var problem = Assert.Single(problems.Problems);
        Assert.Equal(("MECH0011", 4), (problem.Id, problem.Line));
        Assert.Contains("target \" Hello world\" is 2 GPT-2 tokens", problem.Message);
    }
}
