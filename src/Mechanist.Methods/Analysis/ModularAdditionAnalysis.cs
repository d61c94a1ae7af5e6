using System.Globalization;
using System.Text;
using Mechanist.Decomposers;
using Mechanist.Models;
using static TorchSharp.torch;

namespace Mechanist.Methods.Analysis;

/// <summary>
/// Reproduces the key finding of Nanda et al. 2023 on a modular-addition model through its hooks: the embedding and
/// the MLP are sparse in the Fourier basis of Z_p; a handful of key frequencies carry the computation, so removing
/// them from the MLP's activations destroys accuracy while removing every other frequency does not; and the
/// features of a decomposition of the MLP activations are tied to the key frequencies (measured, see FeatureSummary).
/// </summary>
/// <remarks>
/// The model reads tokens (a, b, =) [batch, 3] and returns logits over the p residues ([batch, 3, p] or [batch, p]);
/// it is run on all p² pairs. The MLP site's activation at the last position is the function of (a, b) analysed.
/// </remarks>
public static class ModularAdditionAnalysis
{
    public sealed record Settings
    {
        /// <summary>The MLP activation site (TransformerLens name).</summary>
        public string MlpSite { get; init; } = "blocks.0.mlp.hook_post";

        /// <summary>Token id of '=' (p for the standard vocabulary 0 … p).</summary>
        public int? EqualsToken { get; init; }

        /// <summary>Share of the embedding's non-constant Fourier power the key frequencies must cover.</summary>
        public double Coverage { get; init; } = 0.8;

        /// <summary>Random sets of non-key frequencies (as many as the key ones) ablated for comparison.</summary>
        public int RandomDraws { get; init; } = 5;

        /// <summary>
        /// A feature is tied to a frequency k when its decoder direction puts at least this share of its squared norm on
        /// the MLP neurons of frequency k; the activation-based ties reported beside it use the same share of power.
        /// </summary>
        public double FeatureShare { get; init; } = 0.5;

        /// <summary>Harmonics m·k mod p (m = 1 … this) counted by the activation-based tie; 1 counts k alone.</summary>
        public int FeatureHarmonics { get; init; } = 4;

        public int Seed { get; init; }
    }

    /// <summary>Accuracy and mean cross-entropy over all p² pairs.</summary>
    public sealed record Score(double Accuracy, double Loss);

    public sealed record Result(
        int P,
        double[] EmbeddingPower,
        int[] KeyFrequencies,
        double EmbeddingKeyShare,
        double MlpKeyShare,
        IReadOnlyDictionary<int, int> NeuronsPerFrequency,
        double NeuronsOnKeyFraction,
        Score Clean,
        Score KeyAblated,
        Score OthersAblated,
        IReadOnlyList<(int[] Frequencies, Score Score)> RandomAblated,
        FeatureSummary? Features)
    {
        public string Describe()
        {
            var inv = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            int frequencies = EmbeddingPower.Length - 1;
            sb.AppendLine($"modular addition mod {P}: {frequencies} non-constant frequencies");
            sb.AppendLine($"key frequencies (embedding, {KeyFrequencies.Length} covering {EmbeddingKeyShare.ToString("0.0%", inv)} of its Fourier power): {string.Join(", ", KeyFrequencies)}");
            sb.AppendLine($"  a uniform spread would give them {((double)KeyFrequencies.Length / frequencies).ToString("0.0%", inv)}");
            sb.AppendLine($"MLP activations: {MlpKeyShare.ToString("0.0%", inv)} of their non-constant power in components of the key frequencies alone");
            sb.AppendLine($"MLP neurons by dominant frequency: {string.Join(", ", NeuronsPerFrequency.OrderByDescending(kv => kv.Value).Take(8).Select(kv => $"{kv.Key}: {kv.Value}"))}; {NeuronsOnKeyFraction.ToString("0.0%", inv)} on a key frequency");
            sb.AppendLine("ablation of 2-D Fourier components of the MLP activations (last position), accuracy / loss over all pairs:");
            sb.AppendLine($"  clean:                         {Fmt(Clean)}");
            sb.AppendLine($"  key frequencies removed:       {Fmt(KeyAblated)}");
            sb.AppendLine($"  all other frequencies removed: {Fmt(OthersAblated)}");
            foreach (var (set, score) in RandomAblated)
                sb.AppendLine($"  random non-key {{{string.Join(", ", set)}}} removed: {Fmt(score)}");
            if (Features is { } f)
            {
                sb.AppendLine($"decomposition of the MLP activations ({f.Method}, {f.Alive} live features of {f.Total}; FVU {f.Fvu.ToString("0.000", inv)}, L0 {f.L0.ToString("0.0", inv)}):");
                sb.AppendLine($"  {f.TiedToKey} tied to a key frequency (its decoder direction puts ≥ {f.Threshold.ToString("0%", inv)} of its squared norm on the MLP neurons of one key frequency), {f.TiedToOther} to another frequency");
                sb.AppendLine($"  per key frequency: {string.Join(", ", f.PerKeyFrequency.Select(kv => $"{kv.Key}: {kv.Value}"))}");
                sb.AppendLine($"  by activation over (a, b): {f.TiedToKeyByHarmonics} tied to a key frequency and {f.TiedToOtherByHarmonics} to another{(f.OtherHarmonicFrequencies.Count == 0 ? "" : $" ({string.Join(", ", f.OtherHarmonicFrequencies.Take(4).Select(x => $"{x.Frequency}: {x.Count}"))})")} when the first {f.Harmonics} harmonics m·k mod p of one frequency count ({f.TiedToKeyByFundamental} by one frequency alone); " +
                              $"{f.OnKeyFrequencies} hold ≥ {f.Threshold.ToString("0%", inv)} of their power in the key frequencies and their harmonics jointly, over {f.MeanKeyFrequenciesUsed.ToString("0.0", inv)} key frequencies on average");
            }
            return sb.ToString();

            string Fmt(Score s) => $"accuracy {s.Accuracy.ToString("0.0000", inv)}, loss {s.Loss.ToString("0.0000", inv)}";
        }
    }

    /// <summary>
    /// How a decomposition's features relate to the frequencies. A live feature is tied to frequency k when its
    /// decoder direction puts at least <see cref="Threshold"/> of its squared norm on the MLP neurons whose own
    /// frequency is k (<see cref="ModularFourier.DecoderFrequencies"/>); <see cref="FeatureFrequency"/> and
    /// <see cref="FeatureShare"/> hold each feature's best k and share by that definition.
    /// </summary>
    public sealed record FeatureSummary(string Method, int Total, int Alive, int TiedToKey, int TiedToOther, double Threshold,
        IReadOnlyDictionary<int, int> PerKeyFrequency, int[] FeatureFrequency, double[] FeatureShare)
    {
        /// <summary>Harmonics counted by the activation-based ties.</summary>
        public int Harmonics { get; init; } = 1;

        /// <summary>Live features whose activation over (a, b) has ≥ threshold of its power in the first <see cref="Harmonics"/> harmonics of a key frequency (<see cref="ModularFourier.HarmonicFrequencies"/>).</summary>
        public int TiedToKeyByHarmonics { get; init; }

        /// <summary>The same, of a frequency that is not a key frequency.</summary>
        public int TiedToOtherByHarmonics { get; init; }

        /// <summary>Those other frequencies and how many features each takes, most first.</summary>
        public IReadOnlyList<(int Frequency, int Count)> OtherHarmonicFrequencies { get; init; } = [];

        /// <summary>The same with one harmonic: the frequency alone holds ≥ threshold (the earlier definition).</summary>
        public int TiedToKeyByFundamental { get; init; }

        /// <summary>Fraction of variance unexplained on the p² activation rows.</summary>
        public double Fvu { get; init; } = double.NaN;

        /// <summary>Live features with ≥ threshold of their power in components that use only key frequencies and their harmonics (jointly).</summary>
        public int OnKeyFrequencies { get; init; }

        /// <summary>Mean over the <see cref="OnKeyFrequencies"/> features of how many key frequencies hold ≥ 10% of the feature's power (pure components of k with its harmonics).</summary>
        public double MeanKeyFrequenciesUsed { get; init; } = double.NaN;
        public double L0 { get; init; } = double.NaN;
    }

    /// <summary>All p² inputs (a, b, =), row a·p + b, and their labels (a + b) mod p.</summary>
    public static (Tensor Tokens, Tensor Labels) AllPairs(int p, int equalsToken)
    {
        var a = arange(p).repeat_interleave(p);
        var b = arange(p).repeat(p);
        return (stack([a, b, full(p * p, equalsToken, ScalarType.Int64)], 1), (a + b).remainder(p));
    }

    /// <summary>Runs the analysis. <paramref name="decompose"/> (optional) fits a decomposition to the MLP activations [p², d_mlp].</summary>
    public static Result Run(IHookedModel model, Tensor embedding, int p, Settings settings,
        Func<IActivationSource, (string Method, Decomposition Decomposition)>? decompose = null)
    {
        if (embedding.ndim != 2 || embedding.shape[0] < p)
            throw new MechanistInputException($"the embedding has shape [{string.Join(", ", embedding.shape)}]; expected [≥ {p}, d_model] (one row per residue).");
        if (!model.HookSites.Contains(settings.MlpSite))
            throw new MechanistInputException($"model '{model.ModelType}' has no hook site '{settings.MlpSite}'.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (tokens, labels) = AllPairs(p, settings.EqualsToken ?? p);

        var embeddingPower = ModularFourier.FrequencyPower(embedding.narrow(0, 0, p));
        var key = ModularFourier.KeyFrequencies(embeddingPower, settings.Coverage);
        var keyShare = ModularFourier.Share(embeddingPower, key);

        Tensor? cached = null;
        Tensor cleanLogits;
        using (model.AddHook(settings.MlpSite, a => { cached = a.detach().clone(); return null; }))
            cleanLogits = model.Run(tokens);
        if (cached is null) throw new InvalidOperationException($"hook site {settings.MlpSite} did not fire.");
        var last = LastPosition(cached);                                   // [p², d_mlp]
        var grid = last.to(ScalarType.Float64).reshape(p, p, -1);

        var mlpShare = ModularFourier.Share2D(grid, key);
        var (neuronFrequency, neuronShare) = ModularFourier.ChannelFrequencies(grid);
        var live = Enumerable.Range(0, neuronFrequency.Length).Where(n => neuronShare[n] > 0).ToList();
        var perFrequency = live.GroupBy(n => neuronFrequency[n]).ToDictionary(g => g.Key, g => g.Count());
        double onKey = live.Count == 0 ? 0 : (double)live.Count(n => key.Contains(neuronFrequency[n])) / live.Count;

        Score Ablated(IEnumerable<int> frequencies)
        {
            using var inner = NewDisposeScope();
            var ablatedGrid = ModularFourier.Ablate(grid, frequencies).reshape(p * p, -1).to(cached.dtype);
            Tensor logits;
            using (model.AddHook(settings.MlpSite, a => ReplaceLastPosition(a, ablatedGrid)))
                logits = model.Run(tokens);
            return ScoreOf(logits, labels);
        }

        var all = Enumerable.Range(1, ModularFourier.Frequencies(p)).ToArray();
        var others = all.Except(key).ToArray();
        var rng = new Random(settings.Seed);
        var random = new List<(int[], Score)>();
        if (others.Length >= key.Length && key.Length > 0)
            for (int d = 0; d < settings.RandomDraws; d++)
            {
                var set = others.OrderBy(_ => rng.Next()).Take(key.Length).Order().ToArray();
                random.Add((set, Ablated(set)));
            }

        FeatureSummary? features = null;
        if (decompose is not null)
        {
            using var acts = new ActivationMatrix($"{settings.MlpSite} at the last position over all {p * p} pairs", last.to(ScalarType.Float32));
            var (method, decomposition) = decompose(acts);
            using var _ = decomposition;
            var latents = decomposition.Encode(acts.Data).to(ScalarType.Float64).reshape(p, p, -1);
            var quality = Evaluation.DecompositionMetrics.Compute(decomposition, acts);
            var (harmonicFrequency, harmonicShare) = ModularFourier.HarmonicFrequencies(latents, settings.FeatureHarmonics);
            var (fundamentalFrequency, fundamentalShare) = ModularFourier.ChannelFrequencies(latents);
            if (decomposition.DOut != neuronFrequency.Length)
                throw new MechanistInputException($"the decomposition reconstructs {decomposition.DOut} values, but {settings.MlpSite} has {neuronFrequency.Length} neurons.");
            var (featureFrequency, featureShare) = ModularFourier.DecoderFrequencies(decomposition.DecoderDirections.cpu(), neuronFrequency);
            var alive = Enumerable.Range(0, harmonicShare.Length).Where(f => harmonicShare[f] > 0).ToList();
            var tied = alive.Where(f => featureShare[f] >= settings.FeatureShare).ToList();
            var tiedByHarmonics = alive.Where(f => harmonicShare[f] >= settings.FeatureShare).ToList();
            int byFundamental = alive.Count(f => fundamentalShare[f] >= settings.FeatureShare && key.Contains(fundamentalFrequency[f]));
            var keyHarmonics = key.SelectMany(k => ModularFourier.Harmonics(k, p, settings.FeatureHarmonics)).ToHashSet();
            var (jointShare, _) = ModularFourier.ChannelShares(latents, keyHarmonics);
            var onKeys = alive.Where(f => jointShare[f] >= settings.FeatureShare).ToList();
            double used = 0;
            if (onKeys.Count > 0)
            {
                var perKey = key.Select(k => ModularFourier.ChannelShares(latents, ModularFourier.Harmonics(k, p, settings.FeatureHarmonics)).Within).ToList();
                used = onKeys.Average(f => perKey.Count(s => s[f] >= 0.1));
            }
            features = new FeatureSummary(method, decomposition.DSae, alive.Count,
                tied.Count(f => key.Contains(featureFrequency[f])), tied.Count(f => !key.Contains(featureFrequency[f])), settings.FeatureShare,
                key.ToDictionary(k => k, k => tied.Count(f => featureFrequency[f] == k)), featureFrequency, featureShare)
            {
                Harmonics = settings.FeatureHarmonics, TiedToKeyByFundamental = byFundamental,
                TiedToKeyByHarmonics = tiedByHarmonics.Count(f => key.Contains(harmonicFrequency[f])),
                TiedToOtherByHarmonics = tiedByHarmonics.Count(f => !key.Contains(harmonicFrequency[f])),
                OtherHarmonicFrequencies = tiedByHarmonics.Where(f => !key.Contains(harmonicFrequency[f])).GroupBy(f => harmonicFrequency[f])
                    .Select(g => (g.Key, g.Count())).OrderByDescending(x => x.Item2).ThenBy(x => x.Key).ToList(),
                Fvu = quality.Fvu, L0 = quality.L0, OnKeyFrequencies = onKeys.Count, MeanKeyFrequenciesUsed = onKeys.Count == 0 ? double.NaN : used,
            };
        }

        return new Result(p, embeddingPower, key, keyShare, mlpShare, perFrequency, onKey,
            ScoreOf(cleanLogits, labels), Ablated(key), Ablated(others), random, features);
    }

    /// <summary>Accuracy and mean cross-entropy of logits ([N, p] or [N, pos, p], last position) against labels.</summary>
    public static Score ScoreOf(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var last = logits.ndim == 3 ? logits.select(1, -1) : logits;
        var accuracy = last.argmax(1).eq(labels.to(last.device)).to(ScalarType.Float64).mean().item<double>();
        var loss = nn.functional.cross_entropy(last.to(ScalarType.Float64), labels.to(last.device)).item<double>();
        return new Score(accuracy, loss);
    }

    static Tensor LastPosition(Tensor activation) => activation.ndim == 3 ? activation.select(1, -1) : activation;

    static Tensor ReplaceLastPosition(Tensor activation, Tensor last)
    {
        if (activation.ndim != 3) return last.to(activation.dtype).reshape(activation.shape);
        var replaced = activation.clone();
        replaced.select(1, -1).copy_(last.to(activation.dtype));
        return replaced;
    }
}
