using Mechanist.Concepts;
using static TorchSharp.torch;

namespace Mechanist.Methods.Concepts;

/// <summary>Held-out scores of one linear probe: a concept read from one site, and its control task.</summary>
/// <param name="Accuracy">Held-out accuracy of the concept probe.</param>
/// <param name="ControlAccuracy">Held-out accuracy of the same probe family trained on the control task's labels.</param>
/// <param name="Majority">Held-out accuracy of always predicting the training rows' most frequent class.</param>
/// <param name="TrainAccuracy">Accuracy of the concept probe on its training rows.</param>
public sealed record ProbeScore(string Site, string Concept, double Accuracy, double ControlAccuracy, double Majority, double TrainAccuracy, long TrainRows, long TestRows)
{
    /// <summary>Hewitt and Liang's selectivity: accuracy − control accuracy.</summary>
    public double Selectivity => Accuracy - ControlAccuracy;
}

/// <summary>How probes are fitted and scored.</summary>
public sealed record ProbeSettings
{
    /// <summary>λ of the L2 penalty (on the mean cross-entropy, standardised features).</summary>
    public double L2 { get; init; } = 1e-3;

    public int MaxIterations { get; init; } = 300;

    public ControlKey Control { get; init; } = ControlKey.Token;

    /// <summary>Share of the sequences held out.</summary>
    public double TestFraction { get; init; } = 0.2;

    /// <summary>At most this many training rows (a seeded sample) per probe.</summary>
    public int MaxTrainRows { get; init; } = 20_000;
}

/// <summary>
/// Linear probes per site and concept: softmax regression with L2 (<see cref="SoftmaxRegression"/>) on a site's
/// per-token activations, trained on the rows of some sequences and scored on held-out sequences, together with
/// the same probe on a control task (<see cref="ControlTask"/>) so that selectivity, not raw accuracy, is reported.
/// </summary>
public static class LinearProbe
{
    /// <summary>
    /// Probes every site × concept. <paramref name="tokens"/> [n_seq, seq_len] are run through the model at the
    /// sites; the labels must describe exactly those tokens.
    /// </summary>
    public static IReadOnlyList<ProbeScore> Run(Mechanist.Models.IHookedModel model, Tensor tokens, ConceptLabels labels,
        IReadOnlyList<string> sites, IReadOnlyList<string> concepts, ProbeSettings settings, int seed, CancellationToken cancellation = default)
    {
        labels.RequireRows(tokens.numel(), $"the token ids [{string.Join(", ", tokens.shape)}]");
        var chosen = labels.Select(concepts);
        foreach (var site in sites) SiteActivations.RequireSite(model, site);
        var acts = SiteActivations.Harvest(model, tokens, sites, cancellation: cancellation);
        try
        {
            return Score(acts, tokens, chosen, settings, seed, cancellation);
        }
        finally
        {
            foreach (var t in acts.Values) t.Dispose();
        }
    }

    /// <summary>Probes precomputed per-token activations (site → [N, d]) for each concept.</summary>
    public static IReadOnlyList<ProbeScore> Score(IReadOnlyDictionary<string, Tensor> activations, Tensor tokens, IReadOnlyList<Concept> concepts,
        ProbeSettings settings, int seed, CancellationToken cancellation = default)
    {
        long nSeq = tokens.shape[0], seqLen = tokens.shape[1];
        var ids = tokens.to(ScalarType.Int64).reshape(-1).data<long>().ToArray();
        var split = RowSplit.BySequence(nSeq, seqLen, settings.TestFraction, seed);
        var results = new List<ProbeScore>();
        foreach (var concept in concepts)
        {
            var control = ControlTask.Create(concept, ids, seqLen, settings.Control, seed + 1);
            foreach (var (site, x) in activations)
            {
                cancellation.ThrowIfCancellationRequested();
                if (x.shape[0] != concept.Rows)
                    throw new MechanistInputException(
                        $"concept '{concept.Name}' has {concept.Rows} labels but site {site} has {x.shape[0]} activation rows; labels and activations must describe the same tokens.");
                results.Add(ScoreOne(site, x, concept, control, split, settings, seed));
            }
        }
        return results;
    }

    /// <summary>One probe and its control on one site's rows.</summary>
    public static ProbeScore ScoreOne(string site, Tensor x, Concept concept, Concept control, RowSplit split, ProbeSettings settings, int seed)
    {
        using var scope = NewDisposeScope();
        var trainRows = split.Train.Length <= settings.MaxTrainRows ? split.Train
            : RowSplit.Permutation(split.Train.Length, seed + 2).Take(settings.MaxTrainRows).Order().Select(i => split.Train[i]).ToArray();
        var trainIndex = tensor(trainRows);
        var testIndex = tensor(split.Test);
        var xTrain = x.index_select(0, trainIndex);
        var xTest = x.index_select(0, testIndex);
        var y = tensor(concept.Labels);
        var yc = tensor(control.Labels);
        int classes = concept.Classes.Count;
        var yTrain = y.index_select(0, trainIndex);
        var yTest = y.index_select(0, testIndex);
        using var probe = SoftmaxRegression.Fit(xTrain, yTrain, classes, settings.L2, settings.MaxIterations);
        using var controlProbe = SoftmaxRegression.Fit(xTrain, yc.index_select(0, trainIndex), classes, settings.L2, settings.MaxIterations);
        var counts = yTrain.bincount(null, classes);
        long majorityClass = counts.argmax().item<long>();
        double majority = yTest.eq(majorityClass).to(ScalarType.Float64).mean().item<double>();
        return new ProbeScore(site, concept.Name, probe.Accuracy(xTest, yTest), controlProbe.Accuracy(xTest, yc.index_select(0, testIndex)),
            majority, probe.Accuracy(xTrain, yTrain), trainRows.LongLength, split.Test.LongLength);
    }
}
