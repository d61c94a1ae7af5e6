namespace Mechanist.Sweeps.Planning;

/// <summary>
/// How a job ended: on success its results row (the JSON object <c>mechanist compare</c> writes per method, plus the
/// job's keys) as text; on failure the error, one line. <see cref="Silo"/> is where it ran.
/// </summary>
[GenerateSerializer, Immutable, Alias("Mechanist.Sweeps.JobOutcome")]
public sealed record JobOutcome
{
    [Id(0)] public bool Succeeded { get; init; }

    [Id(1)] public string? Error { get; init; }

    [Id(2)] public string? Row { get; init; }

    [Id(3)] public string Silo { get; init; } = "";

    /// <summary>Seconds from the job's start on its silo to its outputs being in place (loading, fit, metrics, writing).</summary>
    [Id(4)] public double WallSeconds { get; init; }

    public static JobOutcome Failure(string error, string silo, double seconds) =>
        new() { Succeeded = false, Error = error, Silo = silo, WallSeconds = seconds };
}
