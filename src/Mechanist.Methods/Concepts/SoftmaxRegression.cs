using static TorchSharp.torch;

namespace Mechanist.Methods.Concepts;

/// <summary>
/// Multinomial logistic regression (a softmax probe) with an L2 penalty, fitted by L-BFGS in float64 on
/// standardised features: minimises f(W, b) = mean_i −log softmax(z_i)[y_i] + (λ/2)‖W‖²_F, z = ((x − μ)/σ) W + b,
/// μ and σ the training rows' mean and standard deviation (σ = 1 where a feature is constant); the bias is not
/// penalised. The objective is strictly convex in W, so the fit is unique and deterministic. Two classes give the
/// binary logistic probe (a concept activation vector's classifier).
/// </summary>
public sealed class SoftmaxRegression : IDisposable
{
    SoftmaxRegression(Tensor weight, Tensor bias, Tensor mean, Tensor scale, int iterations, double gradientNorm, double loss)
    {
        Weight = weight;
        Bias = bias;
        Mean = mean;
        Scale = scale;
        Iterations = iterations;
        GradientNorm = gradientNorm;
        Loss = loss;
    }

    /// <summary>[d, C] on standardised features (float64).</summary>
    public Tensor Weight { get; }

    /// <summary>[C] (float64).</summary>
    public Tensor Bias { get; }

    /// <summary>The training rows' feature mean [d] and standard deviation [d] the inputs are standardised with.</summary>
    public Tensor Mean { get; }

    public Tensor Scale { get; }

    public int Classes => (int)Weight.shape[1];

    /// <summary>L-BFGS iterations taken.</summary>
    public int Iterations { get; }

    /// <summary>max |∂f/∂θ| at the solution (0 at the exact optimum).</summary>
    public double GradientNorm { get; }

    /// <summary>f at the solution.</summary>
    public double Loss { get; }

    /// <summary>
    /// Fits the probe to rows <paramref name="x"/> [N, d] with labels <paramref name="y"/> [N] in 0 … classes − 1.
    /// Stops when max |∂f/∂θ| &lt; <paramref name="tolerance"/> or after <paramref name="maxIterations"/>.
    /// </summary>
    public static SoftmaxRegression Fit(Tensor x, Tensor y, int classes, double l2 = 1e-3, int maxIterations = 300, double tolerance = 1e-4)
    {
        if (x.ndim != 2) throw new ArgumentException($"features must be [N, d], got [{string.Join(", ", x.shape)}].");
        if (y.ndim != 1 || y.shape[0] != x.shape[0]) throw new ArgumentException("labels must be [N], one per row.");
        if (classes < 2) throw new ArgumentException("a probe needs at least two classes.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var xd = x.to(ScalarType.Float64);
        long n = xd.shape[0], d = xd.shape[1];
        var mean = xd.mean([0]);
        var std = xd.std(0, unbiased: false);
        var scale = where(std.gt(1e-12), std, ones_like(std));
        var z = (xd - mean) / scale;
        var labels = y.to(ScalarType.Int64, x.device);
        var onehot = nn.functional.one_hot(labels, classes).to(ScalarType.Float64);

        (double F, Tensor G) Evaluate(Tensor theta)
        {
            using var inner = NewDisposeScope();
            var w = theta.narrow(0, 0, d * classes).view(d, classes);
            var b = theta.narrow(0, d * classes, classes);
            var logits = z.matmul(w) + b;
            var logp = logits.log_softmax(1);
            double f = -(logp * onehot).sum().item<double>() / n + 0.5 * l2 * w.pow(2).sum().item<double>();
            var residual = (logp.exp() - onehot) / n;
            var gw = z.t().matmul(residual) + l2 * w;
            var gb = residual.sum(dim: 0);
            return (f, cat([gw.reshape(-1), gb]).MoveToOuterDisposeScope());
        }

        var theta = zeros(d * classes + classes, ScalarType.Float64, x.device);
        var (fx, g) = Evaluate(theta);
        var history = new List<(Tensor S, Tensor Y, double Rho)>();
        const int memory = 10;
        int iteration = 0;
        for (; iteration < maxIterations; iteration++)
        {
            if (g.abs().max().item<double>() < tolerance) break;
            using var step_ = NewDisposeScope();
            // Two-loop recursion: direction = −H g.
            var q = g.clone();
            var alphas = new double[history.Count];
            for (int i = history.Count - 1; i >= 0; i--)
            {
                alphas[i] = history[i].Rho * history[i].S.dot(q).item<double>();
                q.sub_(history[i].Y * alphas[i]);
            }
            double gamma = history.Count == 0 ? 1.0 / Math.Max(1.0, g.abs().sum().item<double>())
                : history[^1].S.dot(history[^1].Y).item<double>() / history[^1].Y.dot(history[^1].Y).item<double>();
            var r = q * gamma;
            for (int i = 0; i < history.Count; i++)
            {
                double beta = history[i].Rho * history[i].Y.dot(r).item<double>();
                r.add_(history[i].S * (alphas[i] - beta));
            }
            var direction = -r;
            double slope = g.dot(direction).item<double>();
            if (!(slope < 0))
            {
                history.Clear();
                direction = -g;
                slope = -g.dot(g).item<double>();
            }
            // Backtracking line search (Armijo).
            double step = 1.0, fNew = double.NaN;
            Tensor? thetaNew = null, gNew = null;
            for (int tries = 0; tries < 40; tries++)
            {
                thetaNew = theta + direction * step;
                (fNew, gNew) = Evaluate(thetaNew);
                if (fNew <= fx + 1e-4 * step * slope) break;
                step *= 0.5;
            }
            var s = (thetaNew! - theta).MoveToOuterDisposeScope();
            var yk = (gNew! - g).MoveToOuterDisposeScope();
            double sy = s.dot(yk).item<double>();
            bool stalled = Math.Abs(fx - fNew) <= 1e-14 * Math.Max(1.0, Math.Abs(fx));
            theta.Dispose();
            g.Dispose();
            theta = thetaNew!.MoveToOuterDisposeScope();
            g = gNew!.MoveToOuterDisposeScope();
            fx = fNew;
            if (sy > 1e-12)
            {
                history.Add((s, yk, 1.0 / sy));
                if (history.Count > memory)
                {
                    history[0].S.Dispose();
                    history[0].Y.Dispose();
                    history.RemoveAt(0);
                }
            }
            else
            {
                s.Dispose();
                yk.Dispose();
            }
            if (stalled) { iteration++; break; }
        }
        var weight = theta.narrow(0, 0, d * classes).view(d, classes).clone();
        var bias = theta.narrow(0, d * classes, classes).clone();
        double gradientNorm = g.abs().max().item<double>();
        return new SoftmaxRegression(weight.MoveToOuterDisposeScope(), bias.MoveToOuterDisposeScope(), mean.MoveToOuterDisposeScope(),
            scale.MoveToOuterDisposeScope(), iteration, gradientNorm, fx);
    }

    /// <summary>Logits [N, C] (float64) of rows <paramref name="x"/> [N, d].</summary>
    public Tensor Logits(Tensor x) => ((x.to(ScalarType.Float64) - Mean) / Scale).matmul(Weight) + Bias;

    /// <summary>Predicted classes [N] (int64).</summary>
    public Tensor Predict(Tensor x) => Logits(x).argmax(1);

    /// <summary>Share of rows whose predicted class is the label.</summary>
    public double Accuracy(Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return Predict(x).eq(y.to(ScalarType.Int64, x.device)).to(ScalarType.Float64).mean().item<double>();
    }

    /// <summary>
    /// The direction in the raw feature space along which the log-odds of <paramref name="positive"/> against
    /// <paramref name="negative"/> grow: ∂(z_pos − z_neg)/∂x = (W[:, pos] − W[:, neg]) / σ (float64, not normalised).
    /// </summary>
    public Tensor Direction(int positive, int negative) => (Weight[.., positive] - Weight[.., negative]) / Scale;

    public void Dispose()
    {
        Weight.Dispose();
        Bias.Dispose();
        Mean.Dispose();
        Scale.Dispose();
    }
}
