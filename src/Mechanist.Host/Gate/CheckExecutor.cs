using System.Globalization;
using System.Text.Json.Nodes;
using Mechanist.Attribution;
using Mechanist.Decomposers;
using Mechanist.Host.Activations;
using Mechanist.Host.Configuration;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Host.Running;
using Mechanist.IO;
using Mechanist.Models;
using Mechanist.Validators;
using static TorchSharp.torch;

namespace Mechanist.Host.Gate;

/// <summary>What executing a plan produced, before severities, the baseline and <c>--fail-on</c> are applied.</summary>
public sealed record CheckExecution
{
    public required IReadOnlyList<ReportedFinding> Findings { get; init; }
    public required IReadOnlyList<MeasuredValue> Measurements { get; init; }
    public required IReadOnlyList<JsonObject> Attributions { get; init; }
    public required IReadOnlyList<LogEntry> Log { get; init; }
    public required IReadOnlyList<HarvestRecord> Harvests { get; init; }
    public required IReadOnlyList<MethodRunRecord> Runs { get; init; }
    public required IReadOnlyDictionary<string, string> DecompositionFolders { get; init; }

    /// <summary>The descriptors of the checks that ran.</summary>
    public required IReadOnlyDictionary<string, CheckDescriptor> Ran { get; init; }

    public required IReadOnlyList<string> Inputs { get; init; }
    public required IReadOnlyList<string> Outputs { get; init; }
}

/// <summary>
/// Executes a <see cref="CheckPlan"/>: loads the model, reads the dataset and builds the behaviours, harvests (or
/// reads) each decomposition's activations, loads or trains the decompositions, runs every planned validation and
/// attribution through the host's <see cref="Running.MethodRunner"/>. Problems with the inputs found on the way
/// (a site the model lacks, a target outside the vocabulary) are input errors, gathered and thrown together; a
/// method that throws is MECH0001 and the run goes on.
/// </summary>
public static class CheckExecutor
{
    public static CheckExecution Execute(CheckPlan plan, CheckRunOptions options)
    {
        var config = plan.Config;
        var problems = new ProblemList(config.Path, config.Positions);
        var findings = new List<ReportedFinding>();
        var measurements = new Dictionary<string, MeasuredValue>(StringComparer.Ordinal);
        var attributions = new List<JsonObject>();
        var log = new List<LogEntry>();
        var harvests = new List<HarvestRecord>();
        var runs = new List<MethodRunRecord>();
        var inputs = new SortedSet<string>(plan.Inputs, StringComparer.Ordinal);
        var ran = new Dictionary<string, CheckDescriptor>(StringComparer.Ordinal);
        foreach (var d in Checks.InfrastructureChecks.All) ran[d.Id] = d;
        var device = plan.Device;
        var cancellation = options.CancellationToken;
        var runner = plan.Runner;

        IHookedModel? model = null;
        var sources = new Dictionary<string, IActivationSource>(StringComparer.Ordinal);
        var tokens = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var conceptLabels = new Dictionary<string, Mechanist.Concepts.ConceptLabels>(StringComparer.Ordinal);
        var decompositions = new Dictionary<string, Decomposition>(StringComparer.Ordinal);
        var loadedFolders = new Dictionary<string, string>(StringComparer.Ordinal);
        var behaviours = new Dictionary<string, PreparedBehaviour>(StringComparer.Ordinal);
        using var cache = new HarvestCache(options.CacheFolder);
        using var links = new TokenLinks();
        List<Tensor>? inputBatches = null;
        try
        {
            // The model.
            if (plan.Model is not null)
            {
                options.Log?.Report($"loading model {plan.Model} ({plan.ModelType})");
                try
                {
                    model = runner.LoadModel(plan.Model, plan.ModelConfig!, plan.ModelType!, device, config.Seed, cancellation);
                }
                catch (MethodFailedException e)
                {
                    findings.Add(CheckPlanner.At(config, e.ToFinding(), plan.ModelPointer));
                }
                catch (MethodTimedOutException e)
                {
                    findings.Add(CheckPlanner.At(config, e.ToFinding(), plan.ModelPointer));
                }
                catch (MethodNotRunException e)
                {
                    findings.Add(CheckPlanner.At(config, e.ToFinding(), plan.ModelPointer));
                }
                catch (MechanistInputException e)
                {
                    problems.Input(plan.ModelPointer, e.Message);
                }
            }
            problems.ThrowIfAny();

            // Sites the config names must exist in the model (the message suggests the closest).
            if (model is not null)
                foreach (var d in config.Decompositions.Where(d => d.Site is not null && !model.HookSites.Contains(d.Site)))
                    problems.Input(d.Pointer + "/site", $"decomposition '{d.Name}': {SiteProblem(model, d.Site!)}");
            foreach (var v in config.Validations.Where(v => v.Site is not null && model is not null && !model.HookSites.Contains(v.Site)))
                problems.Input(v.Pointer + "/site", $"validation '{v.Method}': {SiteProblem(model!, v.Site!)}");

            // The dataset and the behaviours.
            var language = model as ILanguageModel;
            ModelInputs Load(DatasetConfig d) => ModelInputs.Load(d, language!, config.Seed);
            ModelInputs? dataset = null;
            if (config.Dataset is { } ds && model is not null)
            {
                if (language is null) problems.Input(ds.Pointer, $"model '{model.ModelType}' does not read token ids, so it cannot run on 'dataset'.");
                else
                    try
                    {
                        dataset = Load(ds);
                        options.Log?.Report($"dataset: {dataset.Description}, {dataset.Count} sequences");
                    }
                    catch (MechanistInputException e)
                    {
                        problems.Input(ds.Pointer, $"'dataset': {e.Message}");
                    }
            }
            if (model is not null)
                foreach (var b in config.Behaviours)
                {
                    if (language is null)
                    {
                        problems.Input(b.Pointer, $"behaviour '{b.Name}': model '{model.ModelType}' does not read token ids.");
                        continue;
                    }
                    if (b.Inputs is null && dataset is null) continue; // the dataset's own problem is reported
                    if (BehaviourBuilder.Build(b, dataset, model, device, config.Seed, problems, Load) is { } prepared)
                    {
                        behaviours[b.Name] = prepared;
                        options.Log?.Report($"behaviour '{b.Name}': {prepared.Behaviour.Description} ({prepared.Examples} inputs{(prepared.Behaviour.Corrupted is null ? "" : ", with corrupted inputs")})");
                    }
                }
            problems.ThrowIfAny();

            // Activations: a file, or harvested from the model at the site (through the cache).
            foreach (var pd in plan.Decompositions)
            {
                cancellation.ThrowIfCancellationRequested();
                var d = pd.Config;
                if (!pd.Harvested)
                {
                    try
                    {
                        sources[d.Name] = OpenFile(d);
                    }
                    catch (MechanistInputException e)
                    {
                        problems.Input(d.Pointer + "/activations", e.Message);
                    }
                    continue;
                }
                if (model is null || language is null || dataset is null) continue; // reported above (or the model failed: MECH0001)
                options.Log?.Report($"harvesting '{d.Name}' at {d.Site} on {dataset.Count} sequences");
                var request = new HarvestRequest(language, plan.Model!, dataset.Sequences, dataset.ContentHash(), d.Site!, dataset.Description);
                var entry = cache.GetOrHarvest(request, Math.Max(1, 4096 / Math.Max(1, language.ContextLength)), line => options.Log?.Report(line), cancellation);
                harvests.Add(new HarvestRecord(d.Name, d.Site!, entry.Key, entry.Store.Rows, !entry.Harvested, entry.Elapsed.TotalSeconds));
                options.Log?.Report($"{(entry.Harvested ? "harvested" : "reused cached")} activations of '{d.Name}': {entry.Store.Rows} rows in {entry.Elapsed.TotalSeconds:0.###} s ({entry.Folder})");
                sources[d.Name] = entry.Store.Site(d.Site);
                if (dataset.Uniform) tokens[d.Name] = dataset.ToTensor(CPU, $"decomposition '{d.Name}'");
            }
            if (cache.Persistent) foreach (var f in cache.UsedFiles) inputs.Add(f);
            problems.ThrowIfAny();

            // Decompositions: loaded or trained.
            foreach (var pd in plan.Decompositions)
            {
                cancellation.ThrowIfCancellationRequested();
                var d = pd.Config;
                if (!sources.TryGetValue(d.Name, out var data)) continue;
                if (d.Folder is not null)
                {
                    options.Log?.Report($"loading decomposition '{d.Name}' from {d.Folder}");
                    try
                    {
                        decompositions[d.Name] = DecompositionFolder.Load(d.Folder);
                        loadedFolders[d.Name] = d.Folder;
                    }
                    catch (MechanistInputException e)
                    {
                        problems.Input(d.Pointer + "/path", e.Message);
                        continue;
                    }
                }
                else
                {
                    var trainer = pd.Trainer!;
                    options.Log?.Report($"training decomposition '{d.Name}' with {trainer.Id} on {data.Count} x {data.Dimension} activations");
                    var fitWatch = System.Diagnostics.Stopwatch.StartNew();
                    try
                    {
                        decompositions[d.Name] = runner.Fit(trainer, token => new DecomposeContext
                        {
                            Activations = data, Options = trainer.Options, Seed = d.Seed ?? config.Seed, Device = device, HookName = d.Site,
                            CancellationToken = links.Link(cancellation, token), Logger = new CheckLogger(log, $"{trainer.Id} ('{d.Name}')", options.Log),
                        });
                        runs.Add(new MethodRunRecord("decomposer", trainer.Id, d.Name, null, fitWatch.Elapsed.TotalSeconds));
                    }
                    catch (MethodFailedException e)
                    {
                        findings.Add(CheckPlanner.At(config, e.ToFinding(), d.Pointer, d.Name));
                        continue;
                    }
                    catch (MethodTimedOutException e)
                    {
                        findings.Add(CheckPlanner.At(config, e.ToFinding(), d.Pointer, d.Name));
                        continue;
                    }
                    catch (MethodNotRunException e)
                    {
                        findings.Add(CheckPlanner.At(config, e.ToFinding(), d.Pointer, d.Name));
                        continue;
                    }
                    catch (MechanistInputException e)
                    {
                        problems.Input(d.Pointer, $"decomposition '{d.Name}': {e.Message}");
                        continue;
                    }
                }
                if (decompositions[d.Name].DIn != data.Dimension)
                    problems.Input(d.Pointer + (pd.Harvested ? "/site" : "/activations"),
                        $"decomposition '{d.Name}' has d_in {decompositions[d.Name].DIn}, but its activations {(pd.Harvested ? $"at {d.Site}" : d.Activations)} have dimension {data.Dimension}.");
            }
            problems.ThrowIfAny();

            // Concept labels: read once per file, before any validator runs (a malformed file is an input error at its key).
            foreach (var labels in plan.Validations.Select(pv => pv.Config.Labels).OfType<Located<string>>())
            {
                if (conceptLabels.ContainsKey(labels.Value)) continue;
                try
                {
                    conceptLabels[labels.Value] = Mechanist.Concepts.ConceptLabels.Load(labels.Value);
                }
                catch (MechanistInputException e)
                {
                    problems.Input(labels.Pointer, e.Message);
                }
            }
            problems.ThrowIfAny();

            // Validations.
            foreach (var pv in plan.Validations)
            {
                cancellation.ThrowIfCancellationRequested();
                var v = pv.Config;
                var target = pv.Target;
                foreach (var c in pv.Checks) ran[c.Id] = c;
                ran[ValidatorChecks.CouldNotRun.Id] = ValidatorChecks.CouldNotRun;
                if (target is not null && !decompositions.ContainsKey(target.Name)) continue; // its training failed: MECH0001 already
                var behaviour = pv.Behaviour is null ? null : behaviours[pv.Behaviour.Name];
                var site = target?.Site ?? v.Site;
                var source = $"{pv.Method.Id}{(target is null ? "" : $" on '{target.Name}'")}";
                options.Log?.Report($"validating{(target is null ? "" : $" '{target.Name}'")} with {pv.Method.Id}{(behaviour is null ? "" : $" (behaviour '{behaviour.Name}')")}");
                var needsModel = (pv.Method.Entry.Descriptor.Requires & ValidationInputs.Model) != 0;
                if (needsModel && model is null)
                {
                    findings.Add(CheckPlanner.At(config, Finding.Create(ValidatorChecks.CouldNotRun, new FindingLocation(config.Path, site, Method: pv.Method.Id),
                        [$"validator '{pv.Method.Id}'", "the model failed to load (MECH0001)"], severity: config.Settings.SeverityOf(ValidatorChecks.CouldNotRun)), v.Pointer, target?.Name, pv.Method.Id));
                    continue;
                }
                if ((pv.Method.Entry.Descriptor.Requires & ValidationInputs.Dataset) != 0 || pv.Checks.Any(c => (c.Requires & ValidationInputs.Dataset) != 0))
                    inputBatches ??= dataset is null ? [] : Batches(dataset, device);
                Running.ValidationRun run;
                var runWatch = System.Diagnostics.Stopwatch.StartNew();
                try
                {
                    run = runner.Validate(pv.Method, (report, measure, token) => new ValidationContext(report, measure)
                    {
                        Options = pv.Method.Options, Seed = config.Seed, Device = device, CancellationToken = links.Link(cancellation, token),
                        Decomposition = target is null ? null : decompositions[target.Name],
                        Activations = target is null ? null : sources[target.Name],
                        Tokens = target is not null && tokens.TryGetValue(target.Name, out var t) ? t : null,
                        Model = model, SubjectPath = config.Path, Site = site, Settings = config.Settings, MethodId = pv.Method.Id,
                        Behaviour = behaviour?.Behaviour, InputBatches = inputBatches,
                        ConceptLabels = v.Labels is null ? null : conceptLabels[v.Labels.Value],
                        Logger = new CheckLogger(log, source, options.Log),
                    });
                }
                catch (MechanistInputException e)
                {
                    problems.Input(v.Pointer, $"validation '{pv.Method.Id}'{(target is null ? "" : $" on decomposition '{target.Name}'")}: {e.Message}");
                    continue;
                }
                catch (MethodTimedOutException e)
                {
                    if (model is not null && model.ActiveHookCount > 0) runner.Abandon(e); // it left a hook on the model
                    // What it reported before it ran out of time is dropped: a check that did not finish did not pass.
                    findings.Add(CheckPlanner.At(config, e.ToFinding(), v.Pointer, target?.Name, pv.Method.Id) with { Behaviour = behaviour?.Name });
                    runs.Add(new MethodRunRecord("validator", pv.Method.Id, target?.Name, behaviour?.Name, runWatch.Elapsed.TotalSeconds));
                    continue;
                }
                catch (MethodNotRunException e)
                {
                    findings.Add(CheckPlanner.At(config, e.ToFinding(config.Settings.SeverityOf(ValidatorChecks.CouldNotRun)), v.Pointer, target?.Name, pv.Method.Id) with { Behaviour = behaviour?.Name });
                    continue;
                }
                runs.Add(new MethodRunRecord("validator", pv.Method.Id, target?.Name, behaviour?.Name, runWatch.Elapsed.TotalSeconds));
                foreach (var f in run.Findings)
                {
                    var atEntry = f.Id == Checks.InfrastructureChecks.MethodThrew.Id || f.Id == ValidatorChecks.CouldNotRun.Id || target is null;
                    findings.Add(CheckPlanner.At(config, f, atEntry ? v.Pointer : target!.Pointer, target?.Name, pv.Method.Id) with { Behaviour = behaviour?.Name });
                }
                foreach (var m in run.Measurements)
                {
                    var value = new MeasuredValue(m.Id, pv.Method.Id, target?.Name, behaviour?.Name, m.Location.Site, m.Location.Feature, m.Value);
                    measurements[value.Key] = value;
                }
            }

            // Attributions.
            foreach (var pa in plan.Attributions)
            {
                cancellation.ThrowIfCancellationRequested();
                if (model is null) continue;
                var a = pa.Config;
                var behaviour = behaviours[pa.Behaviour.Name];
                Decomposition? decomposition = null;
                if (pa.Decomposition is { } dc)
                {
                    if (!decompositions.TryGetValue(dc.Name, out decomposition)) continue;
                }
                var sites = a.Sites.ToList();
                if (sites.Count == 0 && pa.Decomposition?.Site is { } decompositionSite) sites.Add(decompositionSite);
                var unknown = sites.FirstOrDefault(s => !model.HookSites.Contains(s));
                if (unknown is not null)
                {
                    problems.Input(a.Pointer + (a.Sites.Count > 1 ? "/sites" : "/site"), $"attribution '{a.Method}': {SiteProblem(model, unknown)}");
                    continue;
                }
                options.Log?.Report($"attributing '{behaviour.Name}' with {pa.Method.Id}{(sites.Count == 0 ? "" : $" at {string.Join(", ", sites)}")}");
                var attributionWatch = System.Diagnostics.Stopwatch.StartNew();
                try
                {
                    using var scope = NewDisposeScope();
                    var result = runner.Attribute(pa.Method, token => new AttributionContext
                    {
                        Model = model, Input = behaviour.Behaviour.Input, Baseline = behaviour.Behaviour.Corrupted, Metric = behaviour.Behaviour.Metric,
                        ExampleMetric = behaviour.Behaviour.ExampleMetric,
                        MetricDescription = behaviour.Behaviour.Description, Site = sites.Count == 1 ? sites[0] : null, Sites = sites.Count > 1 ? sites : null,
                        Decomposition = decomposition, Options = pa.Method.Options, Seed = config.Seed, Device = device, CancellationToken = links.Link(cancellation, token),
                        Logger = new CheckLogger(log, $"{pa.Method.Id} ('{behaviour.Name}')", options.Log),
                    });
                    var (line, column) = config.Positions.Of(a.Pointer);
                    attributions.Add(AttributionSummary(pa, sites, result, line, column));
                    runs.Add(new MethodRunRecord("attribution", pa.Method.Id, pa.Decomposition?.Name, behaviour.Name, attributionWatch.Elapsed.TotalSeconds));
                }
                catch (MethodFailedException e)
                {
                    findings.Add(CheckPlanner.At(config, e.ToFinding(), a.Pointer) with { Behaviour = behaviour.Name });
                }
                catch (MethodTimedOutException e)
                {
                    if (model.ActiveHookCount > 0) runner.Abandon(e); // it left a hook on the model
                    findings.Add(CheckPlanner.At(config, e.ToFinding(), a.Pointer) with { Behaviour = behaviour.Name });
                }
                catch (MethodNotRunException e)
                {
                    findings.Add(CheckPlanner.At(config, e.ToFinding(config.Settings.SeverityOf(ValidatorChecks.CouldNotRun)), a.Pointer) with { Behaviour = behaviour.Name });
                }
                catch (MechanistInputException e)
                {
                    problems.Input(a.Pointer, $"attribution '{pa.Method.Id}': {e.Message}");
                }
            }
            problems.ThrowIfAny();
        }
        finally
        {
            // A run that exceeded its budget and did not stop may still hold the model, the activations or a
            // decomposition: nothing it may touch is disposed under it (the process ends soon after).
            if (runner.Hung is null) DisposeAll();
        }
        void DisposeAll()
        {
            foreach (var d in decompositions.Values) d.Dispose();
            foreach (var s in sources.Values) (s as IDisposable)?.Dispose();
            foreach (var t in tokens.Values) t.Dispose();
            foreach (var l in conceptLabels.Values) l.Tokens?.Dispose();
            foreach (var b in behaviours.Values)
            {
                b.Behaviour.Input.Dispose();
                b.Behaviour.Corrupted?.Dispose();
            }
            foreach (var t in inputBatches ?? []) t.Dispose();
            model?.Dispose();
        }
        return new CheckExecution
        {
            Findings = findings, Measurements = measurements.Values.OrderBy(m => (m.Check, m.Validation, m.Decomposition, m.Behaviour, m.Site, m.Feature), MeasuredValue.Order).ToList(),
            Attributions = attributions,
            Log = log, Harvests = harvests, Runs = runs, DecompositionFolders = loadedFolders, Ran = ran, Inputs = inputs.ToList(),
            Outputs = cache.Persistent ? cache.UsedFiles : [],
        };
    }

    static string SiteProblem(IHookedModel model, string site)
    {
        var closest = Options.NameSuggester.Closest(site, model.HookSites);
        return $"model '{model.ModelType}' has no hook site '{site}'.{(closest is null ? "" : $" Did you mean '{closest}'?")} " +
               $"Sites: {string.Join(", ", model.HookSites.Take(12))}{(model.HookSites.Count > 12 ? ", …" : "")}.";
    }

    /// <summary>
    /// An activation file: the tensor the decomposition names, else <c>activations</c>, else the file's only tensor,
    /// else the tensor named by the decomposition's site (what <c>mechanist harvest</c> writes).
    /// </summary>
    static ActivationMatrix OpenFile(DecompositionConfig d)
    {
        var path = d.Activations!;
        var tensor = d.Tensor;
        if (tensor is null && path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) && d.Site is { } site)
        {
            var header = Safetensors.ReadHeader(path);
            if (!header.Entries.ContainsKey(ActivationFiles.TensorName) && header.Entries.Count > 1 && header.Entries.ContainsKey(site)) tensor = site;
        }
        return ActivationFiles.Load(path, tensor ?? ActivationFiles.TensorName);
    }

    /// <summary>
    /// The dataset's sequences in batches of equal length, about 4096 tokens each, on the device. A sequence of one
    /// token (the tail of a text) predicts nothing and is left out.
    /// </summary>
    static List<Tensor> Batches(ModelInputs dataset, Device device)
    {
        var batches = new List<Tensor>();
        foreach (var group in dataset.Sequences.Sequences.Where(s => s.Length >= 2).GroupBy(s => s.Length))
            foreach (var chunk in group.Chunk(Math.Max(1, 4096 / group.Key)))
                batches.Add(tensor(chunk.SelectMany(s => s).ToArray(), [chunk.Length, group.Key], device: device));
        return batches;
    }

    /// <summary>An attribution entry's report: its metric, completeness error and the units with the largest mean score.</summary>
    static JsonObject AttributionSummary(PlannedAttribution pa, IReadOnlyList<string> sites, AttributionResult result, int line, int column)
    {
        var inv = CultureInfo.InvariantCulture;
        var scores = result.Scores.detach().to(ScalarType.Float64).cpu();
        var mean = scores.ndim > 1 ? scores.mean([0]) : scores;
        var flat = mean.reshape(-1);
        int n = (int)Math.Min(pa.Config.Top, flat.shape[0]);
        var top = new JsonArray();
        if (n > 0)
        {
            var (_, index) = flat.abs().topk(n);
            foreach (var i in index.data<long>().ToArray())
            {
                string unit;
                if (result.UnitLabels is { } labels && mean.ndim == 1) unit = labels[(int)i];
                else
                {
                    var at = new List<long>();
                    long rest = i;
                    for (int dim = (int)mean.ndim - 1; dim >= 0; dim--)
                    {
                        at.Insert(0, rest % mean.shape[dim]);
                        rest /= mean.shape[dim];
                    }
                    unit = "[" + string.Join(", ", at) + "]";
                }
                top.Add(new JsonObject { ["unit"] = unit, ["mean_score"] = Host.Reports.CheckReports.Number(flat[i].item<double>()) });
            }
        }
        double? Mean(Tensor? t) => t is null ? null : t.to(ScalarType.Float64).mean().item<double>();
        return new JsonObject
        {
            ["method"] = pa.Method.Id,
            ["behaviour"] = pa.Behaviour.Name,
            ["line"] = line,
            ["column"] = column,
            ["sites"] = new JsonArray(sites.Select(s => (JsonNode?)s).ToArray()),
            ["decomposition"] = pa.Decomposition?.Name,
            ["metric"] = result.Metric,
            ["examples"] = (int)scores.shape[0],
            ["scores_shape"] = new JsonArray(result.Scores.shape.Select(x => (JsonNode?)x).ToArray()),
            ["score_definition"] = result.ScoreDefinition,
            ["completeness_error"] = Host.Reports.CheckReports.Number(result.CompletenessError),
            ["completeness_definition"] = result.CompletenessDefinition,
            ["convergence_delta_max"] = result.ConvergenceDelta is { } delta ? Host.Reports.CheckReports.Number(delta.abs().max().to(ScalarType.Float64).item<double>()) : null,
            ["metric_mean"] = Host.Reports.CheckReports.Number(Mean(result.MetricValue)),
            ["reference_metric_mean"] = Host.Reports.CheckReports.Number(Mean(result.ReferenceMetricValue)),
            ["options"] = new JsonObject(pa.Method.OptionValues.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["settings"] = new JsonObject(result.Settings.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["top"] = top,
        };
    }
}
