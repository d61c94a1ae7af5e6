using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Host.Checks;
using Mechanist.Host.Configuration;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Host.Running;
using Mechanist.Options;
using Mechanist.Validators;
using static TorchSharp.torch;

namespace Mechanist.Host.Gate;

/// <summary>A decomposition of the plan: trained with <see cref="Trainer"/> or loaded; its activations read from a file or harvested.</summary>
public sealed record PlannedDecomposition(DecompositionConfig Config, BoundMethod? Trainer)
{
    public bool Harvested => Config.Activations is null;
}

/// <summary>One validator run of the plan: on one decomposition (or none), with its behaviour, and the checks it will report.</summary>
public sealed record PlannedValidation(ValidationConfig Config, BoundMethod Method, DecompositionConfig? Target, BehaviourConfig? Behaviour,
    IReadOnlyList<CheckDescriptor> Checks);

/// <summary>An attribution entry of the plan.</summary>
public sealed record PlannedAttribution(AttributionConfig Config, BoundMethod Method, BehaviourConfig Behaviour, DecompositionConfig? Decomposition);

/// <summary>
/// Everything a check run will do, decided before anything heavy runs, like Roslyn's analyzer driver decides which
/// analyzers run on what before it runs any: the methods resolved and their options bound, every validation entry
/// matched against what its validator declares it needs (<see cref="ValidatorAttribute"/>'s <c>Requires</c>, a
/// check's <see cref="CheckDescriptor.Requires"/>), the inputs checked, the baseline read. Made by
/// <see cref="CheckPlanner"/>; every problem found is thrown at once as <see cref="CheckInputException"/> (MECH0003,
/// MECH0010, MECH0011 at their lines).
/// </summary>
public sealed record CheckPlan
{
    public required CheckConfig Config { get; init; }
    public required MethodRunner Runner { get; init; }
    public required Device Device { get; init; }
    public string? Model { get; init; }
    public string? ModelType { get; init; }
    public JsonObject? ModelConfig { get; init; }
    public string ModelPointer { get; init; } = "/model";

    /// <summary>Every check the host knows: its own, the regression checks, and each validator's, by ID.</summary>
    public required IReadOnlyDictionary<string, CheckDescriptor> Known { get; init; }

    /// <summary>For a plugin's check: the plugin's folder (where its help page is looked for).</summary>
    public required IReadOnlyDictionary<string, string?> SourceFolders { get; init; }

    /// <summary>Findings made while planning: plugins that failed to load, validators that could not be constructed.</summary>
    public required IReadOnlyList<ReportedFinding> Findings { get; init; }

    public required IReadOnlyList<PlannedDecomposition> Decompositions { get; init; }
    public required IReadOnlyList<PlannedValidation> Validations { get; init; }
    public required IReadOnlyList<PlannedAttribution> Attributions { get; init; }

    /// <summary>The baseline compared with, when its file exists (and is not being rewritten).</summary>
    public Baseline? Baseline { get; init; }

    /// <summary>Files read so far (config, plugins, model, activations, decomposition folders, dataset, baseline).</summary>
    public required IReadOnlyList<string> Inputs { get; init; }
}

/// <summary>Makes a <see cref="CheckPlan"/> from a config and a composed host (see <see cref="CheckPlan"/>).</summary>
public static class CheckPlanner
{
    /// <summary>Check IDs whose findings stop the run as input errors: their severity cannot be configured.</summary>
    public static readonly HashSet<string> InputErrorIds =
        [InfrastructureChecks.UnknownMethodOrCheck.Id, ConfigurationChecks.InvalidConfiguration.Id, ConfigurationChecks.InputInvalid.Id];

    public static CheckPlan Plan(CheckConfig config, MechanistHost host, IReadOnlyList<(string Path, string Pointer)> plugins, CheckRunOptions options)
    {
        var problems = new ProblemList(config.Path, config.Positions);
        var catalog = host.Catalog;
        var runner = new MethodRunner(catalog, host.Services) { Budgets = Budgets(config, options, catalog, problems) };
        var inputs = new SortedSet<string>(StringComparer.Ordinal) { config.Path };
        foreach (var (path, _) in plugins) AddInputs(inputs, path);
        var findings = new List<ReportedFinding>();

        string PluginPointer(string? path) =>
            path is null ? "" : plugins.FirstOrDefault(p => path.StartsWith(p.Path, StringComparison.Ordinal)).Pointer ?? "";
        foreach (var f in catalog.LoadFindings)
            findings.Add(At(config, f, PluginPointer(f.Location.Path)));

        // Every check the host knows: its own, the regression checks, and those each validator declares (plugins with
        // prefixes of their own). Malformed or borrowed declarations (MECH0002) and check IDs declared twice (MECH0004)
        // are findings at the plugin's entry; a validator that cannot be constructed is MECH0001 where it is used.
        var checkCatalog = CheckCatalog.Build(catalog, host.Services, runner);
        var known = new Dictionary<string, CheckDescriptor>(checkCatalog.Known, StringComparer.Ordinal);
        var sourceFolders = new Dictionary<string, string?>(checkCatalog.SourceFolders, StringComparer.Ordinal);
        var declared = checkCatalog.Declared;
        var validatorFailures = checkCatalog.Unusable;
        foreach (var f in checkCatalog.Findings.Where(f => f.Id != InfrastructureChecks.MethodThrew.Id && f.Id != InfrastructureChecks.TimeBudgetExceeded.Id))
            findings.Add(At(config, f, PluginPointer(f.Location.Path)));
        var settings = config.Settings;

        // The configured checks must exist; thresholds only where a check compares a value.
        foreach (var rule in config.Checks)
        {
            if (!known.TryGetValue(rule.Id, out var descriptor))
            {
                var closest = NameSuggester.Closest(rule.Id, known.Keys.Where(k => !InputErrorIds.Contains(k)).Order(StringComparer.Ordinal));
                problems.Unknown(rule.Pointer, InfrastructureChecks.UnknownMethodOrCheck.FormatMessage(
                    "check", rule.Id, closest is null ? "" : $"; did you mean '{closest}' ({known[closest].Title})?") +
                    (CheckDescriptor.IsMechanistId(rule.Id) ? "" : $" No loaded validator declares it{(plugins.Count == 0 ? "; a plugin's checks are known once its plugin is loaded ('plugins', --plugins, or a plugin package referenced in the project)" : "")}.") +
                    (validatorFailures.Count > 0 ? $" (validators that failed to load: {string.Join(", ", validatorFailures.Keys)})" : ""));
                continue;
            }
            if (InputErrorIds.Contains(rule.Id))
                problems.Invalid(rule.Pointer, $"{rule.Id} cannot be configured: configuration and input errors always stop the check.");
            if (rule.Threshold is not null && descriptor.DefaultThreshold is null)
                problems.Invalid(rule.Pointer + "/threshold", $"check {rule.Id} ({descriptor.Title}) has no threshold to set.");
        }

        // The model: the folder, its config.json and a loader for its model_type.
        var model = options.Model is not null ? Path.GetFullPath(options.Model) : config.Model;
        var modelPointer = options.Model is not null ? "" : "/model";
        string? modelType = null;
        JsonObject? modelConfig = null;
        if (model is not null && CheckModelFolder(problems, model, modelPointer) is { } read)
        {
            (modelConfig, modelType) = read;
            var loader = catalog.Entries.FirstOrDefault(e => e.Id == modelType && e.Kind == MethodKind.ModelLoader);
            if (loader is null) Resolve(catalog, problems, MethodKind.ModelLoader, modelType, modelPointer, $" (the model_type of {Path.Combine(model, "config.json")})");
        }

        // The device.
        Device? device = null;
        var deviceText = options.Device ?? config.Device ?? "auto";
        try
        {
            device = Devices.Resolve(deviceText);
        }
        catch (MechanistInputException e)
        {
            if (Devices.IsValid(deviceText)) problems.Input(options.Device is not null ? "" : "/device", $"device {e.Message}");
            else problems.Invalid(options.Device is not null ? "" : "/device", $"device must be {Devices.Expected}, not '{deviceText}'.");
        }

        // The dataset.
        if (config.Dataset is { } dataset)
        {
            CheckDataset(problems, dataset, inputs, "'dataset'");
            if (model is null)
                problems.Invalid(dataset.Pointer, "'dataset' holds model inputs, and the config names no 'model' to run them through (set 'model' or pass --model).");
        }

        // Behaviours.
        foreach (var b in config.Behaviours)
        {
            if (model is null)
                problems.Invalid(b.Pointer, $"behaviour '{b.Name}' is measured on the model's output, and the config names no 'model' (set 'model' or pass --model).");
            if (b.Inputs is { } own) CheckDataset(problems, own, inputs, $"the inputs of behaviour '{b.Name}'");
            else if (config.Dataset is null)
                problems.Invalid(b.Pointer, $"behaviour '{b.Name}' has no 'inputs', and the config has no 'dataset' to take them from.");
            if (b.Corrupted?.Inputs is { } corrupted) CheckDataset(problems, corrupted, inputs, $"the corrupted inputs of behaviour '{b.Name}'");
        }

        // Decompositions: methods bind, files exist; activations without a file are harvested from the model at the site.
        var decompositions = new List<PlannedDecomposition>();
        foreach (var d in config.Decompositions)
        {
            BoundMethod? trainer = null;
            if (d.Method is not null && Resolve(catalog, problems, MethodKind.Decomposer, d.Method, d.Pointer + "/method") is { } entry)
                trainer = Bind(problems, entry, d.Options, d.Pointer + "/options");
            if (d.Activations is null)
            {
                var missing = new List<string>();
                if (model is null) missing.Add("a 'model' to run");
                if (config.Dataset is null) missing.Add("a 'dataset' to run it on");
                if (d.Site is null) missing.Add("a 'site' to read");
                if (missing.Count > 0)
                    problems.Invalid(d.Pointer, $"decomposition '{d.Name}' has no 'activations', so they are harvested from the model, which needs {string.Join(", ", missing)}; or give 'activations' (a .safetensors or .npy file).");
            }
            else if (!File.Exists(d.Activations) && !Directory.Exists(d.Activations))
                problems.Input(d.Pointer + "/activations", $"activation file {d.Activations} not found.");
            else AddInputs(inputs, d.Activations);
            if (d.Folder is not null)
            {
                if (!Directory.Exists(d.Folder)) problems.Input(d.Pointer + "/path", $"decomposition folder {d.Folder} not found.");
                else if (!File.Exists(Path.Combine(d.Folder, DecompositionFolder.ConfigFile)))
                    problems.Input(d.Pointer + "/path", $"decomposition folder {d.Folder} has no {DecompositionFolder.ConfigFile}; expected a SAELens-layout folder ({DecompositionFolder.ConfigFile} + {DecompositionFolder.WeightsFile}).");
                else AddInputs(inputs, d.Folder);
            }
            decompositions.Add(new PlannedDecomposition(d, trainer));
        }

        BehaviourConfig? FindBehaviour(Located<string>? name, string owner)
        {
            if (name is null) return null;
            var match = config.Behaviours.FirstOrDefault(b => b.Name == name.Value);
            if (match is not null) return match;
            var closest = NameSuggester.Closest(name.Value, config.Behaviours.Select(b => b.Name));
            problems.Invalid(name.Pointer, $"{owner} names behaviour '{name.Value}', which 'behaviours' does not define." +
                (closest is null ? $" Defined: {(config.Behaviours.Count == 0 ? "(none)" : string.Join(", ", config.Behaviours.Select(b => b.Name)))}." : $" Did you mean '{closest}'?"));
            return null;
        }

        DecompositionConfig? FindDecomposition(Located<string> name, string owner)
        {
            var match = config.Decompositions.FirstOrDefault(d => d.Name == name.Value);
            if (match is not null) return match;
            var closest = NameSuggester.Closest(name.Value, config.Decompositions.Select(d => d.Name));
            problems.Invalid(name.Pointer, $"{owner} names decomposition '{name.Value}', which 'decompositions' does not define." +
                (closest is null ? $" Defined: {(config.Decompositions.Count == 0 ? "(none)" : string.Join(", ", config.Decompositions.Select(d => d.Name)))}." : $" Did you mean '{closest}'?"));
            return null;
        }

        // What a validation entry can supply to its validator, per target decomposition.
        ValidationInputs Available(DecompositionConfig? target, BehaviourConfig? behaviour, string? site, bool labels)
        {
            var a = labels ? ValidationInputs.ConceptLabels : ValidationInputs.None;
            if (target is not null) a |= ValidationInputs.Decomposition | ValidationInputs.Activations;
            if (target is not null && target.Activations is null) a |= ValidationInputs.Tokens;
            if (model is not null) a |= ValidationInputs.Model;
            if ((target?.Site ?? site) is not null) a |= ValidationInputs.Site;
            if (behaviour is not null)
            {
                a |= ValidationInputs.Behaviour;
                if (behaviour.Corrupted is not null) a |= ValidationInputs.CorruptedInputs;
                if (behaviour.Differentiable) a |= ValidationInputs.DifferentiableMetric;
            }
            if (model is not null && config.Dataset is not null) a |= ValidationInputs.Dataset;
            return a;
        }

        // Validations: IDs resolve, options bind, decompositions and behaviours exist, and every input the validator
        // (and each of its enabled checks) needs is there — else MECH0010 at the entry, never a silent pass.
        var validations = new List<PlannedValidation>();
        foreach (var v in config.Validations)
        {
            var targets = new List<DecompositionConfig>();
            foreach (var name in v.Decompositions ?? [])
                if (FindDecomposition(name, $"validation '{v.Method}'") is { } target) targets.Add(target);
            if (v.Decompositions is null) targets.AddRange(config.Decompositions);
            var behaviour = FindBehaviour(v.Behaviour, $"validation '{v.Method}'");
            if (Resolve(catalog, problems, MethodKind.Validator, v.Method, v.Pointer + "/method") is not { } entry ||
                Bind(problems, entry, v.Options, v.Pointer + "/options") is not { } bound)
                continue;
            if (validatorFailures.TryGetValue(entry.Id, out var failure))
            {
                // Constructing it threw (MECH0001) or took too long (MECH0005): that finding, here. Its declaration is
                // unusable (MECH0002, reported at the plugin): this entry could not run.
                var here = failure.Id == InfrastructureChecks.PluginLoadFailed.Id
                    ? Finding.Create(ValidatorChecks.CouldNotRun, new FindingLocation(config.Path, v.Site, Method: entry.Id),
                        [$"validator '{entry.Id}'", $"it is not used: {failure.Message}"], severity: settings.SeverityOf(ValidatorChecks.CouldNotRun))
                    : failure;
                if (settings.SeverityOf(here.Descriptor) != Severity.None)
                    findings.Add(At(config, here, v.Pointer) with { Validation = entry.Id });
                continue;
            }
            if (v.Labels is { } labels)
            {
                if (!File.Exists(labels.Value)) problems.Input(labels.Pointer, $"concept labels file {labels.Value} not found.");
                else AddInputs(inputs, labels.Value);
            }
            var checks = declared[entry.Id].Where(c => settings.SeverityOf(c) != Severity.None).ToList();
            if (v.Behaviour is not null && behaviour is null) continue; // reported above
            var runs = targets.Count > 0 ? targets.Select(t => (DecompositionConfig?)t).ToList() : [null];
            foreach (var target in runs)
            {
                var available = Available(target, behaviour, v.Site, v.Labels is not null);
                var on = target is null ? "" : $" on decomposition '{target.Name}'";
                var missing = entry.Descriptor.Requires & ~available;
                if (missing != ValidationInputs.None)
                {
                    problems.Invalid(v.Pointer, $"validation '{entry.Id}'{on} cannot run: it needs " +
                        string.Join("; ", ValidationInputNames.Describe(missing).Select(x => $"{x.Name} ({x.Where})")) + ".");
                    continue;
                }
                foreach (var check in checks)
                {
                    var needs = check.Requires & ~available;
                    if (needs == ValidationInputs.None) continue;
                    problems.Invalid(v.Pointer, $"check {check.Id} ({check.Title}) of validation '{entry.Id}'{on} needs " +
                        string.Join("; ", ValidationInputNames.Describe(needs).Select(x => $"{x.Name} ({x.Where})")) +
                        $"; or switch it off with \"{check.Id}\": \"none\" in 'checks'.");
                }
                validations.Add(new PlannedValidation(v, bound, target, behaviour, checks));
            }
        }

        // Attributions: IDs resolve, options bind, their behaviour and decomposition exist.
        var attributions = new List<PlannedAttribution>();
        foreach (var a in config.Attributions)
        {
            var behaviour = FindBehaviour(a.Behaviour, $"attribution '{a.Method}'");
            var decomposition = a.Decomposition is null ? null : FindDecomposition(a.Decomposition, $"attribution '{a.Method}'");
            if (model is null) problems.Invalid(a.Pointer, $"attribution '{a.Method}' runs on the model, and the config names no 'model'.");
            if (Resolve(catalog, problems, MethodKind.Attribution, a.Method, a.Pointer + "/method") is { } entry &&
                Bind(problems, entry, a.Options, a.Pointer + "/options") is { } bound && behaviour is not null)
            {
                if (!behaviour.Differentiable)
                    problems.Invalid(a.Behaviour!.Pointer, $"attribution '{a.Method}' differentiates the behaviour's metric, and behaviour '{behaviour.Name}' measures accuracy, which has no gradient; use logit, logprob, prob, logit-diff or loss.");
                attributions.Add(new PlannedAttribution(a, bound, behaviour, decomposition));
            }
        }

        // The baseline: read when it exists (a corrupt one, or another config's, is an input error).
        Baseline? baseline = null;
        var baselinePath = config.BaselinePath;
        if (File.Exists(baselinePath) && !options.UpdateBaseline)
        {
            try
            {
                baseline = Baseline.Read(baselinePath, Path.GetFileName(config.Path));
                inputs.Add(baselinePath);
            }
            catch (MechanistInputException e)
            {
                problems.Input(config.Baseline?.Pointer ?? "", e.Message);
            }
        }
        else if (config.Baseline is { } explicitBaseline && !File.Exists(explicitBaseline.Value) && !options.UpdateBaseline)
            problems.Input(explicitBaseline.Pointer, $"baseline file {explicitBaseline.Value} not found; write it with --update-baseline.");

        problems.ThrowIfAny();
        if (model is not null) AddInputs(inputs, model);
        return new CheckPlan
        {
            Config = config, Runner = runner, Device = device!, Model = model, ModelType = modelType, ModelConfig = modelConfig, ModelPointer = modelPointer,
            Known = known, SourceFolders = sourceFolders, Findings = findings, Decompositions = decompositions, Validations = validations,
            Attributions = attributions, Baseline = baseline, Inputs = inputs.ToList(),
        };
    }

    /// <summary>
    /// The time budget of every method run: <c>--timeout</c> (a default, or ID=SECONDS) over the config's <c>timeouts</c>
    /// over <see cref="TimeBudgets.CheckDefault"/>. A method ID that names no method is MECH0003 with the closest.
    /// </summary>
    static TimeBudgets Budgets(CheckConfig config, CheckRunOptions options, MethodCatalog catalog, ProblemList problems)
    {
        TimeSpan? fallback = TimeBudgets.CheckDefault;
        var perMethod = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
        var ids = catalog.Entries.Select(e => e.Id).Distinct().ToList();
        foreach (var t in config.Timeouts)
        {
            if (t.Method == TimeoutRule.Default) { fallback = TimeSpan.FromSeconds(t.Seconds); continue; }
            if (!ids.Contains(t.Method))
            {
                var closest = NameSuggester.Closest(t.Method, ids);
                problems.Unknown(t.Pointer, InfrastructureChecks.UnknownMethodOrCheck.FormatMessage("method", t.Method, " in 'timeouts'") +
                    (closest is null ? "." : $"; did you mean '{closest}'?"));
                continue;
            }
            perMethod[t.Method] = TimeSpan.FromSeconds(t.Seconds);
        }
        foreach (var (method, seconds) in options.Timeouts)
        {
            if (method is null) { fallback = seconds; continue; }
            if (!ids.Contains(method))
            {
                var closest = NameSuggester.Closest(method, ids);
                problems.Unknown("", InfrastructureChecks.UnknownMethodOrCheck.FormatMessage("method", method, " in --timeout") +
                    (closest is null ? "." : $"; did you mean '{closest}'?"));
                continue;
            }
            perMethod[method] = seconds;
        }
        return new TimeBudgets(fallback, perMethod);
    }

    static void CheckDataset(ProblemList problems, DatasetConfig dataset, SortedSet<string> inputs, string what)
    {
        foreach (var (file, key) in new[] { (dataset.Path, "/path"), (dataset.Text, "/text") })
        {
            if (file is null) continue;
            // A bare string (a behaviour's "inputs": "file.jsonl") has no key below it: its position is the string's own.
            if (!File.Exists(file)) problems.Input(dataset.Pointer + key, $"{what}: file {file} not found.");
            else inputs.Add(file);
        }
        if (dataset.Task is { } task)
        {
            if (!DatasetTasks.IsKnown(task))
            {
                var closest = NameSuggester.Closest(task, DatasetTasks.Ids);
                problems.Invalid(dataset.Pointer + "/task", $"{what}: unknown task '{task}'.{(closest is null ? "" : $" Did you mean '{closest}'?")} Known tasks: {string.Join(", ", DatasetTasks.Ids)}.");
                return;
            }
            try
            {
                DatasetTasks.Bind(task, dataset.Options);
            }
            catch (MechanistInputException e)
            {
                var key = dataset.Options.Keys.FirstOrDefault(k => e.Message.Contains($"'{k}'", StringComparison.Ordinal));
                problems.Invalid(dataset.Pointer + "/options" + (key is null ? "" : "/" + JsonPositions.Escape(key)), $"{what}: {e.Message}");
            }
        }
    }

    internal static ReportedFinding At(CheckConfig config, Finding f, string pointer, string? decomposition = null, string? validation = null)
    {
        var (line, column) = config.Positions.Of(pointer);
        return new ReportedFinding(f, line, column, decomposition, validation);
    }

    static MethodEntry? Resolve(MethodCatalog catalog, ProblemList problems, MethodKind kind, string id, string pointer, string where = "")
    {
        var entry = catalog.Entries.FirstOrDefault(e => e.Id == id && e.Kind == kind);
        if (entry is not null) return entry;
        var other = catalog.Entries.FirstOrDefault(e => e.Id == id);
        if (other is not null)
        {
            problems.Invalid(pointer, $"method '{id}'{where} is {Article(other.Kind)}, not {Article(kind)}.");
            return null;
        }
        var ids = catalog.OfKind(kind).Select(e => e.Id).ToList();
        var closest = NameSuggester.Closest(id, ids);
        problems.Unknown(pointer, InfrastructureChecks.UnknownMethodOrCheck.FormatMessage(kind.ToName(), id, "") + where +
            (closest is null ? "." : $"; did you mean '{closest}'?") +
            $" Known {kind.ToName()}s: {(ids.Count == 0 ? "(none)" : string.Join(", ", ids))}." +
            (catalog.LoadFindings.Any(f => f.Id == InfrastructureChecks.PluginLoadFailed.Id) ? " Some plugins failed to load (MECH0002)." : ""));
        return null;
    }

    static string Article(MethodKind kind) => ("aeiou".Contains(kind.ToName()[0]) ? "an " : "a ") + kind.ToName();

    static BoundMethod? Bind(ProblemList problems, MethodEntry entry, IReadOnlyDictionary<string, string> values, string pointer)
    {
        try
        {
            return MethodRunner.Bind(entry, values);
        }
        catch (MechanistInputException e)
        {
            // Point at the offending option when the message names one.
            var key = values.Keys.FirstOrDefault(k => e.Message.Contains($"'{k}'", StringComparison.Ordinal));
            problems.Invalid(key is null ? pointer : pointer + "/" + JsonPositions.Escape(key), e.Message);
            return null;
        }
    }

    /// <summary>Checks the model folder; returns its parsed config and <c>model_type</c>.</summary>
    static (JsonObject Config, string ModelType)? CheckModelFolder(ProblemList problems, string model, string pointer)
    {
        if (!Directory.Exists(model))
        {
            problems.Input(pointer, $"model folder {model} not found.");
            return null;
        }
        var configFile = Path.Combine(model, "config.json");
        if (!File.Exists(configFile))
        {
            problems.Input(pointer, $"model folder {model} has no config.json; expected a model folder (config.json with model_type + model.safetensors).");
            return null;
        }
        try
        {
            if (JsonNode.Parse(File.ReadAllText(configFile)) is JsonObject o && o["model_type"] is JsonValue v && v.TryGetValue<string>(out var type) && type.Length > 0)
                return (o, type);
            problems.Input(pointer, $"{configFile}: no 'model_type' string; expected the architecture's ID (e.g. \"gpt2\").");
        }
        catch (JsonException e)
        {
            problems.Input(pointer, $"{configFile}: not valid JSON ({e.Message}).");
        }
        return null;
    }

    internal static void AddInputs(SortedSet<string> inputs, string path)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full)) inputs.Add(full);
        else if (Directory.Exists(full))
            foreach (var f in Directory.EnumerateFiles(full, "*", SearchOption.AllDirectories)) inputs.Add(f);
    }
}
