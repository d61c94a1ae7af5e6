namespace Mechanist.Sweeps.Grains;

/// <summary>The list of open sweeps, persisted so that silos find them again after the grain moves.</summary>
public sealed class SweepBoardGrain([PersistentState("board", SweepStorage.Name)] IPersistentState<List<string>> state) : Grain, ISweepBoardGrain
{
    public async Task Add(string sweepId)
    {
        if (state.State.Contains(sweepId)) return;
        state.State.Add(sweepId);
        await state.WriteStateAsync();
    }

    public async Task Remove(string sweepId)
    {
        if (state.State.Remove(sweepId)) await state.WriteStateAsync();
    }

    public Task<List<string>> Open() => Task.FromResult(state.State.ToList());
}
