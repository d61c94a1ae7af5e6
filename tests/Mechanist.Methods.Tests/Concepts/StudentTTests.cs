using Mechanist.Methods.Concepts;

namespace Mechanist.Methods.Tests.Concepts;

public class StudentTTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.3)]
    [InlineData(1.0)]
    [InlineData(2.5)]
    [InlineData(12.0)]
    public void Two_sided_p_matches_the_closed_forms_for_one_and_two_degrees_of_freedom(double t)
    {
        // ν = 1 is the Cauchy distribution: P(|T| ≥ t) = 1 − 2·atan(t)/π; ν = 2: P(|T| ≥ t) = 1 − t/√(2 + t²).
        Assert.Equal(1 - 2 * Math.Atan(t) / Math.PI, StudentT.TwoSidedP(t, 1), 12);
        Assert.Equal(1 - t / Math.Sqrt(2 + t * t), StudentT.TwoSidedP(t, 2), 12);
        Assert.Equal(StudentT.TwoSidedP(t, 7), StudentT.TwoSidedP(-t, 7), 15);
    }

    [Fact]
    public void Two_sided_p_matches_the_t_table_and_tends_to_the_normal()
    {
        // Critical values of the t table: t_{0.975, 10} = 2.228139, t_{0.995, 30} = 2.749996.
        Assert.Equal(0.05, StudentT.TwoSidedP(2.228139, 10), 6);
        Assert.Equal(0.01, StudentT.TwoSidedP(2.749996, 30), 6);
        // Many degrees of freedom: the normal's two-sided p of 1.959964 is 0.05.
        Assert.Equal(0.05, StudentT.TwoSidedP(1.959964, 1e7), 5);
        Assert.Equal(0, StudentT.TwoSidedP(double.PositiveInfinity, 5));
    }

    [Fact]
    public void Log_gamma_matches_factorials()
    {
        double factorial = 1;
        for (int n = 1; n < 30; n++)
        {
            Assert.Equal(Math.Log(factorial), StudentT.LogGamma(n), 9);
            factorial *= n;
        }
        Assert.Equal(0.5 * Math.Log(Math.PI), StudentT.LogGamma(0.5), 12);
    }

    [Fact]
    public void Two_sample_test_matches_a_hand_computed_example()
    {
        // a: mean 2, sample variance 2.5; b: mean 5, variance 2.5; pooled variance 2.5, SE = √(2.5·(1/5 + 1/5)) = 1.
        double[] a = [0, 1, 2, 3, 4], b = [3, 4, 5, 6, 7];
        var r = StudentT.Independent(a, b);
        Assert.Equal(-3.0, r.T, 12);
        Assert.Equal(8.0, r.DegreesOfFreedom);
        Assert.Equal(StudentT.TwoSidedP(3, 8), r.P, 15);
        Assert.InRange(r.P, 0.0170, 0.0172);                 // table: two-sided p of t = 3 at 8 d.f. is 0.01707
        var welch = StudentT.Independent(a, b, equalVariance: false);
        Assert.Equal(-3.0, welch.T, 12);
        Assert.Equal(8.0, welch.DegreesOfFreedom, 12);        // equal sizes and variances: Welch's d.f. is n_a + n_b − 2
    }

    [Fact]
    public void Constant_samples_give_p_one_when_equal_and_zero_when_different()
    {
        Assert.Equal(1.0, StudentT.Independent([0.5, 0.5, 0.5], [0.5, 0.5]).P);
        Assert.Equal(0.0, StudentT.Independent([1.0, 1.0, 1.0], [0.0, 0.0]).P);
    }
}
