using System.Text.Json.Nodes;
using Mechanist.Concepts;
using Mechanist.IO;
using Mechanist.Models.Architectures;
using Mechanist.Models.Tasks;
using Mechanist.Models.Text;
using Mechanist.Models.Training;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Models.Tests;

public class BracketLanguageTests
{
    static readonly BracketLanguageSettings Settings = new(Length: 40, MaxDepth: 3);

    [Fact]
    public void Generated_sequences_are_in_the_language_and_their_concepts_match_a_direct_count()
    {
        var sequences = BracketLanguage.Generate(300, Settings, 11);
        var concepts = BracketLanguage.Concepts(sequences, Settings.MaxDepth);
        for (int s = 0; s < sequences.Length; s++)
        {
            Assert.Equal(BracketLanguage.Bos, sequences[s][0]);
            int opens = 0;
            for (int i = 0; i < Settings.Length; i++)
            {
                long t = sequences[s][i];
                opens += t is BracketLanguage.OpenRound or BracketLanguage.OpenSquare ? 1 : t is BracketLanguage.CloseRound or BracketLanguage.CloseSquare ? -1 : 0;
                Assert.Equal(opens, concepts["depth"][s][i]);
                Assert.InRange(opens, 0, Settings.MaxDepth);
                // The innermost open bracket: scan back for the first opening bracket not closed after it.
                int balance = 0, top = BracketLanguage.TopNone;
                for (int j = i; j >= 0 && top == BracketLanguage.TopNone; j--)
                {
                    long u = sequences[s][j];
                    if (u is BracketLanguage.CloseRound or BracketLanguage.CloseSquare) balance++;
                    else if (u is BracketLanguage.OpenRound or BracketLanguage.OpenSquare)
                    {
                        if (balance == 0) top = u == BracketLanguage.OpenRound ? BracketLanguage.TopRound : BracketLanguage.TopSquare;
                        else balance--;
                    }
                }
                Assert.Equal(top, concepts["top"][s][i]);
            }
        }
        Assert.Equal(sequences, BracketLanguage.Generate(300, Settings, 11));
    }

    [Fact]
    public void Next_tokens_follow_the_generators_distribution_and_the_entropy_floor_is_its_mean_entropy()
    {
        var sequences = BracketLanguage.Generate(2000, Settings, 12);
        var concepts = BracketLanguage.Concepts(sequences, Settings.MaxDepth);
        var counts = new Dictionary<(long, long), double[]>();
        double entropy = 0;
        long positions = 0;
        for (int s = 0; s < sequences.Length; s++)
            for (int i = 0; i + 1 < Settings.Length; i++)
            {
                var state = (concepts["depth"][s][i], concepts["top"][s][i]);
                if (!counts.TryGetValue(state, out var c)) counts[state] = c = new double[BracketLanguage.VocabSize];
                c[sequences[s][i + 1]]++;
                var p = BracketLanguage.NextTokenDistribution((int)state.Item1, (int)state.Item2, Settings.MaxDepth);
                entropy -= p.Where(x => x > 0).Sum(x => x * Math.Log(x));
                positions++;
            }
        foreach (var ((depth, top), c) in counts)
        {
            double n = c.Sum();
            if (n < 2000) continue;
            var p = BracketLanguage.NextTokenDistribution((int)depth, (int)top, Settings.MaxDepth);
            for (int t = 0; t < c.Length; t++)
                Assert.True(Math.Abs(c[t] / n - p[t]) < 4 * Math.Sqrt(p[t] * (1 - p[t]) / n) + 1e-12, $"state ({depth}, {top}), token {t}: {c[t] / n} vs {p[t]}");
        }
        Assert.Equal(entropy / positions, BracketLanguage.EntropyFloor(sequences, Settings.MaxDepth), 12);
    }

    [Fact]
    public void A_sequence_outside_the_language_is_an_input_error_naming_where()
    {
        var e = Assert.Throws<MechanistInputException>(() => BracketLanguage.Concepts([[0, 1, 4]], 4));
        Assert.Contains("sequence 0, position 2", e.Message);
        Assert.Contains("']' does not close", e.Message);
        Assert.Contains("token id 9 is not in the bracket language's vocabulary", Assert.Throws<MechanistInputException>(() => BracketLanguage.Concepts([[0, 9]], 4)).Message);
        Assert.Contains("beyond the maximum depth 1", Assert.Throws<MechanistInputException>(() => BracketLanguage.Concepts([[0, 1, 3]], 1)).Message);
    }

    [Fact]
    public void A_stopped_run_resumes_to_the_same_weights_as_an_uninterrupted_one()
    {
        using var temp = new TempDir();
        var options = new BracketTrainingOptions
        {
            Language = new BracketLanguageSettings(16, 3), Layers = 1, DModel = 16, Heads = 2, DMlp = 32, Steps = 24, BatchSize = 8,
            WarmupSteps = 4, EvalSequences = 16, EvalEvery = 8, CheckpointEvery = 100,
        };
        var straight = BracketTrainer.Train(temp.File("straight"), options);
        using var cancel = new CancellationTokenSource();
        var progress = new Progress(r => { if (r.Step == 8) cancel.Cancel(); });
        Assert.Throws<OperationCanceledException>(() => BracketTrainer.Train(temp.File("resumed"), options, progress: progress, cancellationToken: cancel.Token));
        var resumed = BracketTrainer.Train(temp.File("resumed"), options, resume: true);
        Assert.Equal(9, resumed.ResumedFromStep);
        var a = Safetensors.ReadAll(Path.Combine(temp.File("straight"), "model.safetensors"));
        var b = Safetensors.ReadAll(Path.Combine(temp.File("resumed"), "model.safetensors"));
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, t) in a) Assert.True(TensorAssert.Identical(t, b[name]), $"{name} is identical after resuming");
        Assert.Equal(straight.Final.Loss, resumed.Final.Loss);
        Assert.True(straight.Final.Loss < Math.Log(BracketLanguage.VocabSize), "the model learns something");
    }

    sealed class Progress(Action<ProgressReport> report) : IProgress<ProgressReport>
    {
        public void Report(ProgressReport value) => report(value);
    }

    [Fact]
    public void The_shipped_model_predicts_the_language_almost_exactly_and_its_data_carries_the_true_concepts()
    {
        var folder = Path.Combine(Repo.Root, "samples", "models", "brackets");
        Assert.True(new FileInfo(Path.Combine(folder, "model.safetensors")).Length < 2_000_000, "a few MB at most");
        using var model = Gpt2Model.Load(folder);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!;
        int length = (int)config["task_specific_params"]!["brackets"]!["length"]!, maxDepth = (int)config["task_specific_params"]!["brackets"]!["max_depth"]!;
        var vocabulary = TokenVocabulary.TryRead(folder)!;
        Assert.Equal(BracketLanguage.Vocabulary, Enumerable.Range(0, vocabulary.Count).Select(i => vocabulary.Text(i)));

        // Independently of the trainer: the exact KL to the generator on fresh sequences.
        using var set = BracketTrainer.EvaluationSet.Create(BracketLanguage.Generate(64, new BracketLanguageSettings(length, maxDepth), 99), maxDepth, CPU);
        var e = BracketTrainer.Evaluate(model, set);
        Assert.True(e.Kl < 0.01, $"KL {e.Kl}");
        Assert.True(e.CloserAccuracy > 0.99, $"closing brackets {e.CloserAccuracy}");

        var labels = ConceptLabels.Load(Path.Combine(Repo.Root, "samples", "concepts", "data", "brackets.safetensors"));
        var tokens = labels.Tokens!;
        var sequences = Enumerable.Range(0, (int)tokens.shape[0]).Select(i => tokens[i].data<long>().ToArray()).ToList();
        var truth = BracketLanguage.Concepts(sequences, maxDepth);
        foreach (var name in new[] { "depth", "top", "kind" })
            Assert.Equal(truth[name].SelectMany(r => r), labels[name].Labels);
        Assert.Equal(["none", "round", "square"], labels["top"].Classes);
    }
}
