using Mechanist.Sweeps.Planning;

namespace Mechanist.Sweeps.Grains;

/// <summary>
/// Hands a sweep's pending jobs to silos that ask (a silo asks only when it has a free slot, so placement follows
/// free capacity) and routes outcomes to the job grains, which hold the truth. Keeps a view of every job in memory,
/// rebuilt from the job grains when the sweep grain is activated (after its silo died, for instance). Running jobs
/// on a silo the cluster declares dead are handed back to pending through their grains.
/// </summary>
public sealed class SweepGrain(
    [PersistentState("sweep", SweepStorage.Name)] IPersistentState<SweepState> state,
    IClusterMembershipService membership) : Grain, ISweepGrain
{
    Dictionary<string, JobView>? _views;

    string Id => this.GetPrimaryKeyString();

    IJobGrain Job(string id) => GrainFactory.GetGrain<IJobGrain>(id);

    public async Task Open(List<JobSpec> jobs, int maxAttempts, string runId)
    {
        if (state.State.OpenedBy != runId)
        {
            state.State.JobKeys = jobs.Select(j => j.GrainKey).ToList();
            state.State.MaxAttempts = maxAttempts;
            state.State.OpenedBy = runId;
            await state.WriteStateAsync();
        }
        _views = [];
        foreach (var chunk in jobs.Chunk(64))
            foreach (var (job, view) in chunk.Zip(await Task.WhenAll(chunk.Select(j => Job(j.GrainKey).Submit(j, runId)))))
                _views[job.GrainKey] = view;
        await GrainFactory.GetGrain<ISweepBoardGrain>(ISweepBoardGrain.Key).Add(Id);
    }

    public async Task<JobLease?> Claim(string silo, string token)
    {
        var views = await Views();
        await Reconcile(views);
        foreach (var id in state.State.JobKeys)
        {
            var view = views[id];
            bool again = view.Status == JobStatus.Running && view.ClaimToken == token && view.Silo == silo;
            if (view.Status != JobStatus.Pending && !again) continue;
            var lease = await Job(id).TryClaim(Id, silo, token, state.State.MaxAttempts);
            views[id] = await Job(id).Get(state.State.MaxAttempts);
            if (lease is not null) return lease;
        }
        return null;
    }

    public async Task<bool> Complete(string jobKey, int attempt, JobOutcome outcome)
    {
        var views = await Views();
        bool accepted = await Job(jobKey).Complete(attempt, outcome);
        if (views.ContainsKey(jobKey)) views[jobKey] = await Job(jobKey).Get(state.State.MaxAttempts);
        return accepted;
    }

    public async Task<SweepProgress> Progress()
    {
        var views = await Views();
        await Reconcile(views);
        var all = state.State.JobKeys.Select(key => views[key]).ToList();
        return new SweepProgress(
            all.Count(v => v.Status == JobStatus.Pending), all.Count(v => v.Status == JobStatus.Running),
            all.Count(v => v.Status == JobStatus.Succeeded), all.Count(v => v.Status == JobStatus.Failed),
            all.Sum(v => v.LostAttempts),
            all.Where(v => v.Status == JobStatus.Running && v.Silo is not null).GroupBy(v => v.Silo!).ToDictionary(g => g.Key, g => g.Count()),
            all.Where(v => v.Status == JobStatus.Failed).ToDictionary(v => v.Id, v => v.Outcome?.Error ?? "failed"));
    }

    public async Task<List<JobView>> Jobs()
    {
        var views = await Views();
        foreach (var id in state.State.JobKeys) views[id] = await Job(id).Get(state.State.MaxAttempts);
        return state.State.JobKeys.Select(key => views[key]).ToList();
    }

    public Task Close() => GrainFactory.GetGrain<ISweepBoardGrain>(ISweepBoardGrain.Key).Remove(Id);

    async Task<Dictionary<string, JobView>> Views()
    {
        if (_views is not null) return _views;
        var views = new Dictionary<string, JobView>();
        foreach (var chunk in state.State.JobKeys.Chunk(64))
            foreach (var (key, view) in chunk.Zip(await Task.WhenAll(chunk.Select(key => Job(key).Get(state.State.MaxAttempts)))))
                views[key] = view;
        return _views = views;
    }

    /// <summary>Asks the grain of every job running on a dead silo to take it back.</summary>
    async Task Reconcile(Dictionary<string, JobView> views)
    {
        var snapshot = membership.CurrentSnapshot;
        foreach (var (key, view) in views.Where(kv => kv.Value.Status == JobStatus.Running && kv.Value.Silo is not null).ToList())
            if (snapshot.GetSiloStatus(SiloAddress.FromParsableString(view.Silo!)) == SiloStatus.Dead)
                views[key] = await Job(key).Get(state.State.MaxAttempts);
    }
}
