namespace Mechanist.Sweeps.Grains;

/// <summary>
/// Counts of a sweep's jobs by status, the jobs running on each silo, how many attempts were lost with their silo,
/// and the error of each failed job (job identity → error).
/// </summary>
[GenerateSerializer, Immutable, Alias("Mechanist.Sweeps.SweepProgress")]
public sealed record SweepProgress(
    [property: Id(0)] int Pending,
    [property: Id(1)] int Running,
    [property: Id(2)] int Succeeded,
    [property: Id(3)] int Failed,
    [property: Id(4)] int LostAttempts,
    [property: Id(5)] Dictionary<string, int> RunningPerSilo,
    [property: Id(6)] Dictionary<string, string> Errors)
{
    public int Total => Pending + Running + Succeeded + Failed;

    public int Finished => Succeeded + Failed;

    public bool IsComplete => Pending == 0 && Running == 0;
}
