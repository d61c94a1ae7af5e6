using System.Globalization;

namespace Mechanist.Reports.Plots;

/// <summary>Checks on the numbers a plot draws: a NaN or infinity is named, never drawn.</summary>
public static class PlotValues
{
    /// <summary>
    /// Throws an input error naming <paramref name="source"/>, the metric and where it is (e.g. "step 300") when
    /// <paramref name="value"/> is NaN or infinite.
    /// </summary>
    public static double Finite(double value, string source, string metric, string where)
    {
        if (double.IsFinite(value)) return value;
        throw new MechanistInputException(
            $"{source}: {metric} is {Describe(value)} at {where}; a plot of it would be meaningless (the run diverged or the row is corrupt).");
    }

    public static string Describe(double value) =>
        double.IsNaN(value) ? "NaN" : double.IsPositiveInfinity(value) ? "+infinity" : double.IsNegativeInfinity(value) ? "-infinity"
        : value.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>A short number for labels: about 3 significant digits, an exponent only for very large or small magnitudes.</summary>
    public static string Short(double value)
    {
        if (value == 0) return "0";
        double a = Math.Abs(value);
        if (a >= 1e5 || a < 1e-3) return value.ToString("0.##E+0", CultureInfo.InvariantCulture);
        return value.ToString(a >= 100 ? "0" : a >= 1 ? "0.##" : "0.####", CultureInfo.InvariantCulture);
    }

    /// <summary>10 to an integer power, with superscript digits: <c>10⁻³</c>.</summary>
    public static string PowerOfTen(double exponent)
    {
        const string digits = "⁰¹²³⁴⁵⁶⁷⁸⁹";
        var e = ((long)Math.Round(exponent)).ToString(CultureInfo.InvariantCulture);
        return "10" + string.Concat(e.Select(c => c == '-' ? '⁻' : digits[c - '0']));
    }
}
