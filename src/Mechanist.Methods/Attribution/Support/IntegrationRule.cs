namespace Mechanist.Methods.Attribution;

/// <summary>
/// Quadrature rules for the path integral ∫₀¹ g(α) dα of integrated gradients (Captum's names): Riemann sums with
/// left, right, middle or trapezoid points, and Gauss–Legendre, exact for polynomials of degree 2n − 1.
/// </summary>
public enum IntegrationRule
{
    GaussLegendre,
    RiemannLeft,
    RiemannRight,
    RiemannMiddle,
    RiemannTrapezoid,
}

public static class IntegrationRules
{
    /// <summary>Points α_k in [0, 1] and weights w_k with Σ w_k = 1, so that ∫₀¹ g ≈ Σ w_k g(α_k).</summary>
    public static (double[] Alphas, double[] Weights) Nodes(IntegrationRule rule, int steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, rule == IntegrationRule.RiemannTrapezoid ? 2 : 1);
        var a = new double[steps];
        var w = new double[steps];
        switch (rule)
        {
            case IntegrationRule.RiemannLeft:
                for (int k = 0; k < steps; k++) { a[k] = (double)k / steps; w[k] = 1.0 / steps; }
                break;
            case IntegrationRule.RiemannRight:
                for (int k = 0; k < steps; k++) { a[k] = (double)(k + 1) / steps; w[k] = 1.0 / steps; }
                break;
            case IntegrationRule.RiemannMiddle:
                for (int k = 0; k < steps; k++) { a[k] = (k + 0.5) / steps; w[k] = 1.0 / steps; }
                break;
            case IntegrationRule.RiemannTrapezoid:
                for (int k = 0; k < steps; k++)
                {
                    a[k] = (double)k / (steps - 1);
                    w[k] = (k == 0 || k == steps - 1 ? 0.5 : 1.0) / (steps - 1);
                }
                break;
            case IntegrationRule.GaussLegendre:
                var (x, gw) = GaussLegendre(steps);
                for (int k = 0; k < steps; k++) { a[k] = (x[k] + 1) / 2; w[k] = gw[k] / 2; }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(rule));
        }
        return (a, w);
    }

    /// <summary>Gauss–Legendre nodes on [−1, 1] in increasing order and their weights (Newton on P_n, double precision).</summary>
    public static (double[] Nodes, double[] Weights) GaussLegendre(int n)
    {
        var x = new double[n];
        var w = new double[n];
        int m = (n + 1) / 2;
        for (int i = 0; i < m; i++)
        {
            double z = Math.Cos(Math.PI * (i + 0.75) / (n + 0.5));
            double pp = 0;
            for (int iter = 0; iter < 100; iter++)
            {
                double p1 = 1, p2 = 0;
                for (int j = 1; j <= n; j++)
                {
                    double p3 = p2;
                    p2 = p1;
                    p1 = ((2.0 * j - 1) * z * p2 - (j - 1.0) * p3) / j;
                }
                pp = n * (z * p1 - p2) / (z * z - 1);
                double z1 = z;
                z = z1 - p1 / pp;
                if (Math.Abs(z - z1) < 1e-15) break;
            }
            x[i] = -z;
            x[n - 1 - i] = z;
            w[i] = w[n - 1 - i] = 2 / ((1 - z * z) * pp * pp);
        }
        return (x, w);
    }
}
