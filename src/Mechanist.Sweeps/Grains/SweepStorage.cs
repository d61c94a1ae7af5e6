namespace Mechanist.Sweeps.Grains;

/// <summary>The grain storage provider holding sweep and job records: in memory for an embedded sweep, Redis on a cluster.</summary>
public static class SweepStorage
{
    public const string Name = "sweeps";
}
