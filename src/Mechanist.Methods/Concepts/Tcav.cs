using Mechanist.Attribution;
using Mechanist.Concepts;
using Mechanist.Methods.Attribution;
using Mechanist.Models;
using static TorchSharp.torch;

namespace Mechanist.Methods.Concepts;

/// <summary>Where TCAV's directional derivative is taken.</summary>
public enum TcavPositions
{
    /// <summary>The site's activation at the last position (where a next-token metric reads).</summary>
    Last,

    /// <summary>Every position: the derivative of adding the CAV at all positions at once.</summary>
    All,
}

/// <summary>Settings of a TCAV run.</summary>
public sealed record TcavSettings
{
    /// <summary>Concept CAVs and random CAVs trained (each against its own random set); at least 10.</summary>
    public int RandomCavs { get; init; } = 20;

    /// <summary>Rows in each concept set and each random set.</summary>
    public int Examples { get; init; } = 200;

    public double L2 { get; init; } = 1e-2;

    public TcavPositions Positions { get; init; } = TcavPositions.Last;

    /// <summary>Significance level of the two-sided t-test.</summary>
    public double Alpha { get; init; } = 0.05;

    public const int MinimumRandomCavs = 10;
}

/// <summary>The TCAV scores of one concept and of random concepts, and the test between them.</summary>
/// <param name="ConceptScores">TCAV score of each concept CAV (concept set vs a random set).</param>
/// <param name="RandomScores">TCAV score of each random CAV (random set vs random set).</param>
/// <param name="CavAccuracy">Mean held-out accuracy of the concept CAVs' classifiers (20% of each set held out).</param>
public sealed record TcavResult(string Site, string Concept, string Class, string Metric, double[] ConceptScores, double[] RandomScores,
    TTestResult Test, double CavAccuracy, double Alpha)
{
    public double Score => ConceptScores.Average();
    public double RandomScore => RandomScores.Average();
    public bool Significant => Test.P < Alpha;
}

/// <summary>
/// TCAV (Kim et al. 2018, Interpretability Beyond Feature Attribution: Testing with Concept Activation Vectors).
/// A concept activation vector (CAV) is the normal of a linear classifier (L2 logistic regression) separating the
/// site's activations on tokens of a concept class from those on a random set of tokens; the TCAV score of a CAV
/// v for a behaviour is the share of the behaviour's inputs x whose metric grows along v,
/// |{x : ∇_a M(x) · v &gt; 0}| / |X|, with a the site's activation. Random CAVs separate one random set of tokens
/// from another. A concept matters when its CAVs' scores differ from the random CAVs' scores: a two-sided
/// two-sample t-test over the N concept CAVs and N random CAVs (N ≥ 10), p-value reported.
/// </summary>
public static class Tcav
{
    /// <summary>
    /// Runs TCAV. <paramref name="conceptRows"/> [N, d] are the site's per-token activations the CAVs are trained
    /// on, labelled by <paramref name="concept"/>; the behaviour's inputs are run through the model for the gradients.
    /// </summary>
    public static TcavResult Run(IHookedModel model, string site, Tensor conceptRows, Concept concept, int classIndex, Behaviour behaviour,
        TcavSettings settings, int seed, CancellationToken cancellation = default)
    {
        if (settings.RandomCavs < TcavSettings.MinimumRandomCavs)
            throw new MechanistInputException(
                $"TCAV's significance test needs at least {TcavSettings.MinimumRandomCavs} random concepts (random CAVs), got {settings.RandomCavs}.");
        if (settings.Examples < 4) throw new MechanistInputException($"TCAV needs at least 4 examples per set, got {settings.Examples}.");
        SiteActivations.RequireSite(model, site);
        if (conceptRows.shape[0] != concept.Rows)
            throw new MechanistInputException(
                $"concept '{concept.Name}' has {concept.Rows} labels but the activations at {site} have {conceptRows.shape[0]} rows; labels and activations must describe the same tokens.");
        concept.RequireTwoClasses(concept.Name);
        var positives = Enumerable.Range(0, (int)concept.Rows).Where(r => concept.Labels[r] == classIndex).Select(r => (long)r).ToArray();
        if (positives.Length < 4)
            throw new MechanistInputException($"concept '{concept.Name}' class '{concept.Classes[classIndex]}' labels only {positives.Length} rows; TCAV needs at least 4.");
        int n = Math.Min(settings.Examples, positives.Length);

        using var scope = NewDisposeScope();
        var gradients = MetricGradients(model, site, behaviour, settings.Positions, cancellation);   // [B, d]
        var rng = new Random(seed);
        long[] Sample(long[] pool, int count) => pool.OrderBy(_ => rng.Next()).Take(count).ToArray();
        var all = Enumerable.Range(0, (int)concept.Rows).Select(r => (long)r).ToArray();

        var conceptScores = new double[settings.RandomCavs];
        var randomScores = new double[settings.RandomCavs];
        double accuracy = 0;
        for (int i = 0; i < settings.RandomCavs; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            var (v, acc) = Cav(conceptRows, Sample(positives, n), Sample(all, n), settings.L2);
            conceptScores[i] = Score(gradients, v);
            accuracy += acc / settings.RandomCavs;
            var (r, _) = Cav(conceptRows, Sample(all, n), Sample(all, n), settings.L2);
            randomScores[i] = Score(gradients, r);
        }
        var test = StudentT.Independent(conceptScores, randomScores);
        return new TcavResult(site, concept.Name, concept.Classes[classIndex], behaviour.Description, conceptScores, randomScores, test, accuracy, settings.Alpha);
    }

    /// <summary>The share of examples whose directional derivative along <paramref name="cav"/> is positive.</summary>
    public static double Score(Tensor gradients, Tensor cav)
    {
        using var scope = NewDisposeScope();
        return gradients.to(ScalarType.Float64).matmul(cav.to(ScalarType.Float64)).gt(0).to(ScalarType.Float64).mean().item<double>();
    }

    /// <summary>
    /// A CAV: the unit normal (in the raw activation space, pointing to the first set) of an L2 logistic regression
    /// separating rows <paramref name="positive"/> from rows <paramref name="negative"/>, and its accuracy on a
    /// held-out fifth of each set.
    /// </summary>
    public static (Tensor Cav, double HeldOutAccuracy) Cav(Tensor rows, long[] positive, long[] negative, double l2)
    {
        using var scope = NewDisposeScope();
        int hp = Math.Max(1, positive.Length / 5), hn = Math.Max(1, negative.Length / 5);
        var trainIdx = positive.Skip(hp).Concat(negative.Skip(hn)).ToArray();
        var testIdx = positive.Take(hp).Concat(negative.Take(hn)).ToArray();
        var yTrain = tensor(Enumerable.Repeat(1L, positive.Length - hp).Concat(Enumerable.Repeat(0L, negative.Length - hn)).ToArray());
        var yTest = tensor(Enumerable.Repeat(1L, hp).Concat(Enumerable.Repeat(0L, hn)).ToArray());
        using var clf = SoftmaxRegression.Fit(rows.index_select(0, tensor(trainIdx)), yTrain, 2, l2);
        double acc = clf.Accuracy(rows.index_select(0, tensor(testIdx)), yTest);
        var v = clf.Direction(1, 0);
        var norm = v.norm().item<double>();
        var unit = norm > 0 ? v / norm : v;
        return (unit.MoveToOuterDisposeScope(), acc);
    }

    /// <summary>
    /// ∇_a M for every example of the behaviour, a the site's activation: [B, d] at the last position, or summed
    /// over positions (the derivative of adding a vector at every position).
    /// </summary>
    public static Tensor MetricGradients(IHookedModel model, string site, Behaviour behaviour, TcavPositions positions, CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        using var scope = NewDisposeScope();
        Tensor? delta = null;
        Tensor m;
        using (enable_grad())
        {
            using (model.AddHook(site, a =>
            {
                if (delta is not null) throw new InvalidOperationException($"hook site {site} fired more than once in one run.");
                delta = zeros_like(a).requires_grad_(true);
                return a + delta;
            }))
                m = AttributionCore.Metric(behaviour.Metric, behaviour.Description, model.Run(behaviour.Input), behaviour.Input.shape[0]);
            if (delta is null) throw new InvalidOperationException($"hook site {site} did not fire.");
            var g = AttributionCore.Gradient(m.sum(), delta);
            if (g.ndim < 3)
                throw new MechanistInputException($"hook site {site} gives [{string.Join(", ", g.shape)}]; TCAV needs per-token activations [batch, pos, …].");
            var flat = g.reshape(g.shape[0], g.shape[1], -1);
            var result = positions == TcavPositions.Last ? flat.select(1, -1) : flat.sum(dim: 1);
            return result.detach().to(ScalarType.Float32, CPU).MoveToOuterDisposeScope();
        }
    }
}
