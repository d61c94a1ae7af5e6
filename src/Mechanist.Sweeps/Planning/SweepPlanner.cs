using Mechanist.Host.Discovery;
using Mechanist.Options;

namespace Mechanist.Sweeps.Planning;

/// <summary>
/// Expands a <see cref="SweepDefinition"/> into jobs: each method's option grid (its own axes plus the common
/// <c>options</c> it has) × sites × seeds, then the explicit <c>jobs</c>. Every method is resolved and every option
/// bound here, so a typo fails before any training; the same job listed twice runs once.
/// </summary>
public static class SweepPlanner
{
    /// <summary>A job before its inputs are hashed: the method, its settings and bound option values, site and seed.</summary>
    public sealed record Candidate(MethodEntry Entry, Dictionary<string, string> Settings, IReadOnlyDictionary<string, string> Bound, string? Site, int Seed);

    /// <summary>Resolves every method and binds every option of every job (input errors name the sweep file key); nothing is read or written.</summary>
    public static IReadOnlyList<Candidate> Expand(SweepDefinition sweep, MethodCatalog catalog)
    {
        var file = sweep.SourcePath;
        var candidates = new List<(MethodEntry Entry, Dictionary<string, string> Settings, string? Site, int Seed, string Key)>();
        var commonUsed = new HashSet<string>();
        foreach (var grid in sweep.Methods)
        {
            var entry = Resolve(catalog, grid.Method, file, $"methods.{grid.Method}");
            var names = entry.Descriptor.Options.Select(o => o.Name).ToHashSet();
            var axes = grid.Axes.ToList();
            foreach (var axis in sweep.CommonOptions)
                if (names.Contains(axis.Key) && axes.All(a => a.Key != axis.Key))
                {
                    axes.Add(axis);
                    commonUsed.Add(axis.Key);
                }
            foreach (var settings in Product(axes))
                foreach (var site in sweep.Sites)
                    foreach (var seed in sweep.Seeds)
                        candidates.Add((entry, settings, site, seed, $"methods.{grid.Method}"));
        }
        var unused = sweep.CommonOptions.Select(a => a.Key).FirstOrDefault(k => !commonUsed.Contains(k) && sweep.Methods.Count > 0);
        if (unused is not null)
            throw new MechanistInputException($"{file}: 'options.{unused}' is an option of none of the methods ({string.Join(", ", sweep.Methods.Select(m => m.Method))}).");
        for (int i = 0; i < sweep.Jobs.Count; i++)
        {
            var job = sweep.Jobs[i];
            var entry = Resolve(catalog, job.Method, file, $"jobs[{i}].method");
            if (job.Site is not null && !sweep.Sites.Contains(job.Site) && sweep.Sites.Any(s => s is not null))
                throw new MechanistInputException($"{file}: 'jobs[{i}].site' is '{job.Site}', not one of the sweep's sites ({string.Join(", ", sweep.Sites)}).");
            candidates.Add((entry, new Dictionary<string, string>(job.Options), job.Site, job.Seed, $"jobs[{i}].options"));
        }

        var result = new List<Candidate>();
        foreach (var (entry, settings, site, seed, key) in candidates)
        {
            MethodOptions options;
            try
            {
                options = MethodCatalog.BindOptions(entry, settings);
            }
            catch (MechanistInputException e)
            {
                throw new MechanistInputException($"{file}: '{key}': {e.Message}", e);
            }
            var bound = entry.Descriptor.Options.ToDictionary(o => o.Name, o => OptionSchema.FormatValue(o.Property.GetValue(options)));
            result.Add(new Candidate(entry, settings, bound, site, seed));
        }
        return result;
    }

    /// <summary>The jobs of the sweep on <paramref name="activations"/>, identified by content hash, labelled, each once.</summary>
    public static IReadOnlyList<JobSpec> Plan(SweepDefinition sweep, MethodCatalog catalog, string activations, string outputRoot,
        string device, InputHashes hashes)
    {
        var candidates = Expand(sweep, catalog);
        var activationsHash = hashes.Of(activations);
        var targetsHash = sweep.Targets is { } t ? hashes.Of(t) : null;
        var truthHash = sweep.GroundTruth is { } g ? hashes.Of(g) : null;
        var jobs = new List<JobSpec>();
        var seen = new HashSet<string>();
        foreach (var c in candidates)
        {
            var id = JobIdentity.Compute(c.Entry.Id, c.Bound, c.Seed, device, activationsHash, c.Site, targetsHash, truthHash);
            if (!seen.Add(id)) continue;
            jobs.Add(new JobSpec
            {
                Id = id,
                Folder = JobIdentity.FolderName(c.Entry.Id, id),
                Method = c.Entry.Id,
                Settings = c.Settings,
                Seed = c.Seed,
                Device = device,
                Activations = activations,
                Site = c.Site,
                Targets = sweep.Targets,
                GroundTruth = sweep.GroundTruth,
                OutputRoot = Path.GetFullPath(outputRoot),
                CheckpointEvery = sweep.CheckpointEvery,
                Plugins = sweep.Plugins.ToArray(),
            });
        }
        return Labelled(jobs);
    }

    static MethodEntry Resolve(MethodCatalog catalog, string id, string file, string key)
    {
        try
        {
            return catalog.Resolve(id, MethodKind.Decomposer);
        }
        catch (MechanistInputException e)
        {
            throw new MechanistInputException($"{file}: '{key}': {e.Message}", e);
        }
    }

    /// <summary>Every combination of the axes' values, first axis slowest.</summary>
    static IEnumerable<Dictionary<string, string>> Product(IReadOnlyList<KeyValuePair<string, IReadOnlyList<string>>> axes)
    {
        IEnumerable<Dictionary<string, string>> result = [new Dictionary<string, string>()];
        foreach (var (name, values) in axes)
            result = result.SelectMany(partial => values.Select(v => new Dictionary<string, string>(partial) { [name] = v })).ToList();
        return result;
    }

    /// <summary>Labels name the method and whatever varies among its jobs (options, site, seed).</summary>
    static List<JobSpec> Labelled(List<JobSpec> jobs)
    {
        bool sitesVary = jobs.Select(j => j.Site).Distinct().Count() > 1;
        bool seedsVary = jobs.Select(j => j.Seed).Distinct().Count() > 1;
        var result = new List<JobSpec>();
        foreach (var group in jobs.GroupBy(j => j.Method))
        {
            var keys = group.SelectMany(j => j.Settings.Keys).Distinct().Order(StringComparer.Ordinal)
                .Where(k => group.Select(j => j.Settings.GetValueOrDefault(k)).Distinct().Count() > 1).ToList();
            foreach (var job in group)
            {
                var parts = new List<string> { job.Method };
                parts.AddRange(keys.Select(k => $"{k}={job.Settings.GetValueOrDefault(k, "default")}"));
                if (sitesVary) parts.Add($"site={job.Site}");
                if (seedsVary) parts.Add($"seed={job.Seed}");
                result.Add(job with { Label = string.Join(' ', parts) });
            }
        }
        return result.OrderBy(j => jobs.FindIndex(x => x.Id == j.Id)).ToList();
    }
}
