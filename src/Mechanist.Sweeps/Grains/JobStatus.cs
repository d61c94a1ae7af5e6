namespace Mechanist.Sweeps.Grains;

/// <summary>Where a job is: waiting for a free slot, running on a silo, or finished one way or the other.</summary>
[GenerateSerializer, Alias("Mechanist.Sweeps.JobStatus")]
public enum JobStatus
{
    Pending = 0,
    Running = 1,
    Succeeded = 2,
    Failed = 3,
}
