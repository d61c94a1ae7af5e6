using Mechanist.Sweeps.Planning;

namespace Mechanist.Sweeps.Grains;

/// <summary>A job handed to a silo's worker: run <see cref="Spec"/> and report back with <see cref="Attempt"/>.</summary>
[GenerateSerializer, Immutable, Alias("Mechanist.Sweeps.JobLease")]
public sealed record JobLease([property: Id(0)] string SweepId, [property: Id(1)] JobSpec Spec, [property: Id(2)] int Attempt);
