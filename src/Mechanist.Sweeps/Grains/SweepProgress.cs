namespace Mechanist.Sweeps.Grains;

/// <summary>Counts of a sweep's jobs by status, the jobs running on each silo, and how many attempts were lost with their silo.</summary>
[GenerateSerializer, Immutable, Alias("Mechanist.Sweeps.SweepProgress")]
public sealed record SweepProgress(
    [property: Id(0)] int Pending,
    [property: Id(1)] int Running,
    [property: Id(2)] int Succeeded,
    [property: Id(3)] int Failed,
    [property: Id(4)] int LostAttempts,
    [property: Id(5)] Dictionary<string, int> RunningPerSilo)
{
    public int Total => Pending + Running + Succeeded + Failed;

    public int Finished => Succeeded + Failed;

    public bool IsComplete => Pending == 0 && Running == 0;
}
