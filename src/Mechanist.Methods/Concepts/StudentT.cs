namespace Mechanist.Methods.Concepts;

/// <summary>The outcome of a two-sample t-test.</summary>
/// <param name="T">The t statistic, (mean_a − mean_b) / standard error (±∞ when both samples are constant and differ).</param>
/// <param name="DegreesOfFreedom">n_a + n_b − 2 (Student) or the Welch–Satterthwaite value.</param>
/// <param name="P">Two-sided p-value, P(|T| ≥ |t|) under equal means.</param>
public sealed record TTestResult(double T, double DegreesOfFreedom, double P, double MeanA, double MeanB);

/// <summary>
/// Student's t distribution and the two-sample t-test (TCAV's significance test against random concepts). The
/// two-sided p-value is the regularised incomplete beta function I_{ν/(ν+t²)}(ν/2, 1/2), evaluated by its continued
/// fraction (Lentz's method) with a Lanczos log-gamma.
/// </summary>
public static class StudentT
{
    /// <summary>P(|T| ≥ |t|) for T ~ Student's t with <paramref name="df"/> degrees of freedom.</summary>
    public static double TwoSidedP(double t, double df)
    {
        if (!(df > 0)) throw new ArgumentOutOfRangeException(nameof(df), df, "degrees of freedom must be positive.");
        if (double.IsNaN(t)) return double.NaN;
        if (double.IsInfinity(t)) return 0;
        return Math.Clamp(RegularizedIncompleteBeta(df / 2, 0.5, df / (df + t * t)), 0, 1);
    }

    /// <summary>
    /// Two-sample t-test of equal means: Student's with pooled variance (<paramref name="equalVariance"/>; what
    /// TCAV's reference implementation runs) or Welch's. Each sample needs at least two values.
    /// </summary>
    public static TTestResult Independent(IReadOnlyList<double> a, IReadOnlyList<double> b, bool equalVariance = true)
    {
        if (a.Count < 2 || b.Count < 2) throw new ArgumentException("each sample needs at least two values.");
        double ma = a.Average(), mb = b.Average();
        double va = a.Sum(x => (x - ma) * (x - ma)) / (a.Count - 1);
        double vb = b.Sum(x => (x - mb) * (x - mb)) / (b.Count - 1);
        double se, df;
        if (equalVariance)
        {
            df = a.Count + b.Count - 2;
            double pooled = ((a.Count - 1) * va + (b.Count - 1) * vb) / df;
            se = Math.Sqrt(pooled * (1.0 / a.Count + 1.0 / b.Count));
        }
        else
        {
            double qa = va / a.Count, qb = vb / b.Count;
            se = Math.Sqrt(qa + qb);
            df = qa + qb == 0 ? a.Count + b.Count - 2 : (qa + qb) * (qa + qb) / (qa * qa / (a.Count - 1) + qb * qb / (b.Count - 1));
        }
        double diff = ma - mb;
        double t = se > 0 ? diff / se : diff == 0 ? 0 : Math.Sign(diff) * double.PositiveInfinity;
        return new TTestResult(t, df, TwoSidedP(t, df), ma, mb);
    }

    /// <summary>I_x(a, b), the regularised incomplete beta function, for a, b &gt; 0 and x in [0, 1].</summary>
    public static double RegularizedIncompleteBeta(double a, double b, double x)
    {
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        double front = Math.Exp(LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x));
        // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
        return x < (a + 1) / (a + b + 2)
            ? front * BetaContinuedFraction(a, b, x) / a
            : 1 - front * BetaContinuedFraction(b, a, 1 - x) / b;
    }

    static double BetaContinuedFraction(double a, double b, double x)
    {
        const double tiny = 1e-300, epsilon = 1e-15;
        double qab = a + b, qap = a + 1, qam = a - 1;
        double c = 1, d = 1 - qab * x / qap;
        if (Math.Abs(d) < tiny) d = tiny;
        d = 1 / d;
        double h = d;
        for (int m = 1; m <= 10_000; m++)
        {
            int m2 = 2 * m;
            double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1 + aa * d; if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + aa / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            h *= d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1 + aa * d; if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + aa / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < epsilon) break;
        }
        return h;
    }

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos, g = 7, 9 coefficients; relative error below 1e-13).</summary>
    public static double LogGamma(double x)
    {
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        ReadOnlySpan<double> c =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        x -= 1;
        double sum = c[0];
        for (int i = 1; i < c.Length; i++) sum += c[i] / (x + i);
        double t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }
}
