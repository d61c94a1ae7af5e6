namespace Mechanist.Sweeps.Grains;

/// <summary>The cluster's open sweeps (one grain, key <see cref="Key"/>): where an idle silo looks for work.</summary>
[Alias("Mechanist.Sweeps.ISweepBoardGrain")]
public interface ISweepBoardGrain : IGrainWithStringKey
{
    public const string Key = "board";

    [Alias("Add")] Task Add(string sweepId);

    [Alias("Remove")] Task Remove(string sweepId);

    [Alias("Open")] Task<List<string>> Open();
}
