using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Decomposers;
using Mechanist.Host.Checks;
using Mechanist.Host.Configuration;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Host.Running;
using Mechanist.IO;
using Mechanist.Models;
using Mechanist.Options;
using Mechanist.Validators;
using static TorchSharp.torch;

namespace Mechanist.Host.Checking;

/// <summary>What the caller adds to a config: command-line plugins, a model folder, a device, a help-link base.</summary>
public sealed record CheckRunOptions
{
    public IReadOnlyList<string> ExtraPlugins { get; init; } = [];

    /// <summary>Replaces the config's <c>model</c> (the MSBuild item's folder).</summary>
    public string? Model { get; init; }

    /// <summary>Replaces the config's <c>device</c>.</summary>
    public string? Device { get; init; }

    /// <summary>Base URI that relative help links (<c>docs/checks/ID.md</c>) are resolved against; see <see cref="HelpLinks"/>.</summary>
    public string? HelpUriBase { get; init; }

    public IProgress<string>? Log { get; init; }

    public CancellationToken CancellationToken { get; init; }
}

/// <summary>
/// The check driver: runs everything a <c>mechanist.json</c> asks — trains or loads each decomposition on its
/// activations, runs each validator on them with the configured severities and thresholds — and collects findings.
/// Configuration and input problems (MECH0003, MECH0010, MECH0011) are gathered first and thrown together as
/// <see cref="CheckInputException"/> before anything heavy runs. A method that throws becomes MECH0001 and the run goes on.
/// </summary>
public static class CheckRunner
{
    /// <summary>Check IDs whose findings stop the run as input errors: their severity cannot be configured.</summary>
    static readonly HashSet<string> InputErrorIds =
        [InfrastructureChecks.UnknownMethodOrCheck.Id, ConfigurationChecks.InvalidConfiguration.Id, ConfigurationChecks.InputInvalid.Id];

    public static CheckResult Run(string configPath, CheckRunOptions? options = null)
    {
        options ??= new CheckRunOptions();
        var watch = Stopwatch.StartNew();
        var config = CheckConfigReader.Load(configPath);
        var problems = new ProblemList(config.Path, config.Positions);
        var inputs = new SortedSet<string>(StringComparer.Ordinal) { config.Path };

        var model = options.Model is not null ? Path.GetFullPath(options.Model) : config.Model;
        var deviceText = options.Device ?? config.Device ?? "auto";

        // Plugins: a missing folder is an input error at its line, before the host is composed.
        var pluginPaths = new List<(string Path, string Pointer)>();
        foreach (var p in config.Plugins)
        {
            if (!File.Exists(p.Value) && !Directory.Exists(p.Value)) problems.Input(p.Pointer, $"plugin folder {p.Value} not found.");
            else pluginPaths.Add((p.Value, p.Pointer));
        }
        foreach (var p in options.ExtraPlugins)
        {
            var full = Path.GetFullPath(p);
            if (!File.Exists(full) && !Directory.Exists(full)) problems.Input("", $"plugin folder {full} (--plugins) not found.");
            else pluginPaths.Add((full, ""));
        }
        problems.ThrowIfAny();
        foreach (var (path, _) in pluginPaths) AddInputs(inputs, path);

        using var host = MechanistHost.Create(pluginPaths.Select(p => p.Path));
        var catalog = host.Catalog;
        var findings = new List<ReportedFinding>();
        var sourceFolders = new Dictionary<string, string?>(StringComparer.Ordinal);

        string PluginPointer(string? path) =>
            path is null ? "" : pluginPaths.FirstOrDefault(p => path.StartsWith(p.Path, StringComparison.Ordinal)).Pointer ?? "";
        foreach (var f in catalog.LoadFindings)
            findings.Add(At(f, config.Positions.Of(PluginPointer(f.Location.Path))));

        // Every check the host knows: its own, and those each validator declares.
        var known = new Dictionary<string, CheckDescriptor>(StringComparer.Ordinal);
        foreach (var d in InfrastructureChecks.All.Concat(ConfigurationChecks.All)) known.TryAdd(d.Id, d);
        var declared = new Dictionary<string, IReadOnlyList<CheckDescriptor>>(StringComparer.Ordinal);
        var validatorFailures = new Dictionary<string, Finding>(StringComparer.Ordinal);
        foreach (var entry in catalog.OfKind(MethodKind.Validator))
        {
            try
            {
                var checks = MethodInvoker.Invoke(entry, () => MethodCatalog.Create<Validator>(entry, host.Services).SupportedChecks);
                declared[entry.Id] = checks;
                foreach (var c in checks)
                {
                    known.TryAdd(c.Id, c);
                    sourceFolders.TryAdd(c.Id, entry.IsBuiltIn ? null : Path.GetDirectoryName(entry.Source));
                }
            }
            catch (MethodFailedException e)
            {
                validatorFailures[entry.Id] = e.ToFinding();
            }
        }

        // The configured checks must exist; thresholds only where a check compares a value.
        foreach (var rule in config.Checks)
        {
            if (!known.TryGetValue(rule.Id, out var descriptor))
            {
                var closest = NameSuggester.Closest(rule.Id, known.Keys.Where(k => !InputErrorIds.Contains(k)).Order(StringComparer.Ordinal));
                problems.Unknown(rule.Pointer, InfrastructureChecks.UnknownMethodOrCheck.FormatMessage(
                    "check", rule.Id, closest is null ? "" : $"; did you mean '{closest}' ({known[closest].Title})?") +
                    (validatorFailures.Count > 0 ? $" (validators that failed to load: {string.Join(", ", validatorFailures.Keys)})" : ""));
                continue;
            }
            if (InputErrorIds.Contains(rule.Id))
                problems.Invalid(rule.Pointer, $"{rule.Id} cannot be configured: configuration and input errors always stop the check.");
            if (rule.Threshold is not null && descriptor.DefaultThreshold is null)
                problems.Invalid(rule.Pointer + "/threshold", $"check {rule.Id} ({descriptor.Title}) has no threshold to set.");
        }

        // Methods: IDs resolve, options bind.
        var decomposers = new Dictionary<string, (MethodEntry Entry, MethodOptions Options)>(StringComparer.Ordinal);
        foreach (var d in config.Decompositions.Where(d => d.Method is not null))
            if (Resolve(catalog, problems, MethodKind.Decomposer, d.Method!, d.Pointer + "/method") is { } entry &&
                Bind(problems, entry, d.Options, d.Pointer + "/options") is { } bound)
                decomposers[d.Name] = (entry, bound);
        var validations = new List<(ValidationConfig Config, MethodEntry Entry, MethodOptions Options, IReadOnlyList<DecompositionConfig> Targets)>();
        foreach (var v in config.Validations)
        {
            var targets = new List<DecompositionConfig>();
            foreach (var name in v.Decompositions ?? [])
            {
                var target = config.Decompositions.FirstOrDefault(d => d.Name == name.Value);
                if (target is not null) { targets.Add(target); continue; }
                var closest = NameSuggester.Closest(name.Value, config.Decompositions.Select(d => d.Name));
                problems.Invalid(name.Pointer, $"validation '{v.Method}' names decomposition '{name.Value}', which 'decompositions' does not define." +
                    (closest is null ? $" Defined: {(config.Decompositions.Count == 0 ? "(none)" : string.Join(", ", config.Decompositions.Select(d => d.Name)))}." : $" Did you mean '{closest}'?"));
            }
            if (v.Decompositions is null) targets.AddRange(config.Decompositions);
            if (Resolve(catalog, problems, MethodKind.Validator, v.Method, v.Pointer + "/method") is { } entry &&
                Bind(problems, entry, v.Options, v.Pointer + "/options") is { } bound)
                validations.Add((v, entry, bound, targets));
        }
        foreach (var a in config.Attributions)
        {
            if (Resolve(catalog, problems, MethodKind.Attribution, a.Method, a.Pointer + "/method") is { } entry &&
                Bind(problems, entry, a.Options, a.Pointer + "/options") is not null)
                problems.Invalid(a.Pointer, $"attribution '{entry.Id}': running attribution methods needs a model input and a target metric, which this version of 'mechanist check' cannot take from a configuration yet; remove the entry or run the method from code.");
        }

        // Inputs: the model folder, the dataset, activations and decomposition folders exist.
        string? modelType = null;
        var modelPointer = options.Model is not null ? "" : "/model";
        if (model is not null) modelType = CheckModelFolder(problems, model, modelPointer);
        if (config.Dataset is { Path: { } datasetPath } dataset)
        {
            if (!File.Exists(datasetPath)) problems.Input(dataset.Pointer + "/path", $"dataset file {datasetPath} not found.");
            else inputs.Add(datasetPath);
        }
        else if (config.Dataset is { Task: { } task } taskDataset)
            problems.Invalid(taskDataset.Pointer + "/task", $"dataset task '{task}': generating model inputs from a task is not available in this version of 'mechanist check'; give 'path' a file of inputs.");
        foreach (var d in config.Decompositions)
        {
            if (d.Activations is null)
                problems.Invalid(d.Pointer, model is null
                    ? $"decomposition '{d.Name}' needs 'activations' (a .safetensors or .npy file of activations at its site)."
                    : $"decomposition '{d.Name}' needs 'activations': harvesting activations from the model at a site is not available in this version of 'mechanist check'.");
            else if (!File.Exists(d.Activations))
                problems.Input(d.Pointer + "/activations", $"activation file {d.Activations} not found.");
            else inputs.Add(d.Activations);
            if (d.Folder is not null)
            {
                if (!Directory.Exists(d.Folder)) problems.Input(d.Pointer + "/path", $"decomposition folder {d.Folder} not found.");
                else if (!File.Exists(Path.Combine(d.Folder, DecompositionFolder.ConfigFile)))
                    problems.Input(d.Pointer + "/path", $"decomposition folder {d.Folder} has no {DecompositionFolder.ConfigFile}; expected a SAELens-layout folder ({DecompositionFolder.ConfigFile} + {DecompositionFolder.WeightsFile}).");
                else AddInputs(inputs, d.Folder);
            }
        }
        var device = ParseDevice(problems, deviceText, options.Device is not null ? "" : "/device");
        MethodEntry? loaderEntry = modelType is null ? null : Resolve(catalog, problems, MethodKind.ModelLoader, modelType, modelPointer,
            $" (the model_type of {Path.Combine(model!, "config.json")})");
        problems.ThrowIfAny();
        if (model is not null) AddInputs(inputs, model);

        // Run.
        var ran = new Dictionary<string, CheckDescriptor>(StringComparer.Ordinal);
        foreach (var d in InfrastructureChecks.All) ran[d.Id] = d;
        IHookedModel? hooked = null;
        var activations = new Dictionary<string, ActivationMatrix>(StringComparer.Ordinal);
        var decompositions = new Dictionary<string, Decomposition>(StringComparer.Ordinal);
        var loadedFolders = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            if (loaderEntry is not null)
            {
                options.Log?.Report($"loading model {model} ({modelType})");
                try
                {
                    var loader = MethodCatalog.Create<ModelLoader>(loaderEntry, host.Services);
                    var modelConfig = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(model!, "config.json")))!;
                    hooked = MethodInvoker.Invoke(loaderEntry, () => loader.Load(new ModelLoadContext
                    {
                        Folder = model!, Config = modelConfig, Options = MethodCatalog.BindOptions(loaderEntry, new Dictionary<string, string>()), Device = device!, Seed = config.Seed,
                        CancellationToken = options.CancellationToken,
                    }));
                }
                catch (MethodFailedException e)
                {
                    findings.Add(At(e.ToFinding(), config.Positions.Of(modelPointer)));
                }
                catch (MechanistInputException e)
                {
                    problems.Input(modelPointer, e.Message);
                }
            }
            foreach (var d in config.Decompositions)
            {
                options.CancellationToken.ThrowIfCancellationRequested();
                var position = config.Positions.Of(d.Pointer);
                ActivationMatrix data;
                try
                {
                    data = ActivationFiles.Load(d.Activations!, d.Tensor);
                }
                catch (MechanistInputException e)
                {
                    problems.Input(d.Pointer + "/activations", e.Message);
                    continue;
                }
                activations[d.Name] = data;
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
                    var (entry, bound) = decomposers[d.Name];
                    options.Log?.Report($"training decomposition '{d.Name}' with {entry.Id} on {data.Count} x {data.Dimension} activations");
                    try
                    {
                        var decomposer = MethodCatalog.Create<Decomposer>(entry, host.Services);
                        var seed = d.Seed ?? config.Seed;
                        random.manual_seed(seed);
                        var fitted = MethodInvoker.Invoke(entry, () => decomposer.Fit(new DecomposeContext
                        {
                            Activations = data, Options = bound, Seed = seed, Device = device!, HookName = d.Site,
                            CancellationToken = options.CancellationToken,
                        }));
                        if (fitted.DIn != data.Dimension)
                        {
                            fitted.Dispose();
                            throw new MethodFailedException(entry, new InvalidOperationException(
                                $"returned a decomposition with d_in {fitted.DIn} for activations of dimension {data.Dimension}"));
                        }
                        decompositions[d.Name] = fitted;
                    }
                    catch (MethodFailedException e)
                    {
                        findings.Add(At(e.ToFinding(), position, d.Name));
                        continue;
                    }
                    catch (MechanistInputException e)
                    {
                        problems.Input(d.Pointer, $"decomposition '{d.Name}': {e.Message}");
                        continue;
                    }
                }
                if (decompositions[d.Name].DIn != data.Dimension)
                    problems.Input(d.Pointer + "/activations",
                        $"decomposition '{d.Name}' has d_in {decompositions[d.Name].DIn}, but its activations {d.Activations} have dimension {data.Dimension}.");
            }
            problems.ThrowIfAny();

            foreach (var (v, entry, bound, targets) in validations)
            {
                options.CancellationToken.ThrowIfCancellationRequested();
                if (validatorFailures.TryGetValue(entry.Id, out var failure))
                {
                    findings.Add(At(failure, config.Positions.Of(v.Pointer), validation: entry.Id));
                    continue;
                }
                foreach (var c in declared[entry.Id]) ran[c.Id] = c;
                // A validator runs once per target decomposition; with none (a model-level validator), once.
                var runs = targets.Count > 0 ? targets.Select(t => (DecompositionConfig?)t).ToList() : [null];
                foreach (var target in runs)
                {
                    if (target is not null && !decompositions.ContainsKey(target.Name)) continue; // its training failed: MECH0001 already
                    options.Log?.Report($"validating{(target is null ? "" : $" '{target.Name}'")} with {entry.Id}");
                    var position = config.Positions.Of(target?.Pointer ?? v.Pointer);
                    IReadOnlyList<Finding> reported;
                    try
                    {
                        reported = MethodInvoker.RunValidators(
                            [(entry, MethodCatalog.Create<Validator>(entry, host.Services))],
                            (report, _) => new ValidationContext(report)
                            {
                                Options = bound, Seed = config.Seed, Device = device!, CancellationToken = options.CancellationToken,
                                Decomposition = target is null ? null : decompositions[target.Name],
                                Activations = target is null ? null : activations[target.Name],
                                Model = hooked, SubjectPath = config.Path, Site = target?.Site, Settings = config.Settings,
                            });
                    }
                    catch (MethodFailedException e)
                    {
                        reported = [e.ToFinding()];
                    }
                    catch (MechanistInputException e)
                    {
                        problems.Input(v.Pointer, $"validation '{entry.Id}'{(target is null ? "" : $" on decomposition '{target.Name}'")}: {e.Message}");
                        continue;
                    }
                    foreach (var f in reported)
                        findings.Add(At(f, f.Id == InfrastructureChecks.MethodThrew.Id ? config.Positions.Of(v.Pointer) : position, target?.Name, entry.Id));
                }
            }
            problems.ThrowIfAny();
        }
        finally
        {
            foreach (var d in decompositions.Values) d.Dispose();
            foreach (var a in activations.Values) a.Dispose();
            hooked?.Dispose();
        }

        // The host's own findings follow the configured severities too (validators apply them as they report).
        var settings = config.Settings;
        var final = new List<ReportedFinding>();
        foreach (var f in findings)
        {
            ran.TryAdd(f.Id, f.Finding.Descriptor);
            if (f.Finding.Descriptor.Category != "Infrastructure") { final.Add(f); continue; }
            var severity = settings.SeverityOf(f.Finding.Descriptor);
            if (severity != Severity.None) final.Add(f with { Finding = f.Finding with { Severity = severity } });
        }
        var rules = ran.Values.OrderBy(r => r.Id, StringComparer.Ordinal).ToList();
        return new CheckResult
        {
            Config = config, Model = model, Findings = final, Rules = rules,
            HelpUris = rules.ToDictionary(r => r.Id, r => HelpLinks.Resolve(r.HelpLink, options.HelpUriBase, sourceFolders.GetValueOrDefault(r.Id))),
            ToolInformationUri = HelpLinks.Resolve("docs/checks/README.md", options.HelpUriBase),
            Inputs = inputs.ToList(), Elapsed = watch.Elapsed, DecompositionFolders = loadedFolders,
        };
    }

    static ReportedFinding At(Finding f, (int Line, int Column) position, string? decomposition = null, string? validation = null) =>
        new(f, position.Line, position.Column, decomposition, validation);

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

    static MethodOptions? Bind(ProblemList problems, MethodEntry entry, IReadOnlyDictionary<string, string> values, string pointer)
    {
        try
        {
            return MethodCatalog.BindOptions(entry, values);
        }
        catch (MechanistInputException e)
        {
            // Point at the offending option when the message names one.
            var key = values.Keys.FirstOrDefault(k => e.Message.Contains($"'{k}'", StringComparison.Ordinal));
            problems.Invalid(key is null ? pointer : pointer + "/" + JsonPositions.Escape(key), e.Message);
            return null;
        }
    }

    /// <summary>Checks the model folder; returns its <c>model_type</c>.</summary>
    static string? CheckModelFolder(ProblemList problems, string model, string pointer)
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
                return type;
            problems.Input(pointer, $"{configFile}: no 'model_type' string; expected the architecture's ID (e.g. \"gpt2\").");
        }
        catch (JsonException e)
        {
            problems.Input(pointer, $"{configFile}: not valid JSON ({e.Message}).");
        }
        return null;
    }

    static Device? ParseDevice(ProblemList problems, string text, string pointer)
    {
        if (text is "auto") return cuda.is_available() ? CUDA : CPU;
        if (text is "cpu") return CPU;
        if (text == "cuda" || text.StartsWith("cuda:", StringComparison.Ordinal))
        {
            int index = text.Length > 5 && int.TryParse(text[5..], out var n) ? n : 0;
            if (cuda.is_available() && index < cuda.device_count()) return new Device(TorchSharp.DeviceType.CUDA, index);
            problems.Input(pointer, $"device '{text}': {(cuda.is_available() ? $"no such CUDA device (found {cuda.device_count()})" : "CUDA is not available in this build or on this machine")}; use cpu or auto.");
            return null;
        }
        problems.Invalid(pointer, $"device must be auto, cpu, cuda or cuda:N, not '{text}'.");
        return null;
    }

    static void AddInputs(SortedSet<string> inputs, string path)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full)) inputs.Add(full);
        else if (Directory.Exists(full))
            foreach (var f in Directory.EnumerateFiles(full, "*", SearchOption.AllDirectories)) inputs.Add(f);
    }
}
