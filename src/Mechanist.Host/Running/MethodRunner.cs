using System.Text.Json.Nodes;
using Mechanist.Attribution;
using Mechanist.Decomposers;
using Mechanist.Host.Discovery;
using Mechanist.Interpreters;
using Mechanist.Models;
using Mechanist.Models.Runtime;
using Mechanist.Options;
using Mechanist.Validators;
using static TorchSharp.torch;

namespace Mechanist.Host.Running;

/// <summary>A method found by its ID with its options bound: what <see cref="MethodRunner"/> runs.</summary>
public sealed record BoundMethod(MethodEntry Entry, MethodOptions Options)
{
    public string Id => Entry.Id;

    /// <summary>The bound options as text, by option name (as <c>cfg.json</c> and reports record them).</summary>
    public IReadOnlyDictionary<string, string> OptionValues =>
        Entry.Descriptor.Options.ToDictionary(o => o.Name, o => OptionSchema.FormatValue(o.Property.GetValue(Options)));
}

/// <summary>What one validator run produced: its findings (MECH0001 when it threw) and every value it measured.</summary>
public sealed record ValidationRun(IReadOnlyList<Finding> Findings, IReadOnlyList<Measurement> Measurements);

/// <summary>
/// The host's one way to run a method, used by <c>check</c>, <c>decompose</c>, <c>compare</c>, <c>attribute</c>,
/// <c>interpret</c> and the tests: resolve the ID and bind the options (<see cref="Bind"/>, input errors), then
/// construct the method through DI, seed, invoke, check the post-conditions of its extension point, and stamp
/// what the result records of its making. A method that throws (or breaks a post-condition) becomes
/// <see cref="MethodFailedException"/> (MECH0001); an input error stays an input error.
/// </summary>
public sealed class MethodRunner(MethodCatalog catalog, IServiceProvider services)
{
    public static MethodRunner For(MechanistHost host) => new(host.Catalog, host.Services);

    public MethodCatalog Catalog => catalog;

    /// <summary>Resolves <paramref name="id"/> among the methods of <paramref name="kind"/> and binds <paramref name="settings"/> to its options.</summary>
    public BoundMethod Bind(string id, MethodKind kind, IReadOnlyDictionary<string, string>? settings = null)
    {
        var entry = catalog.Resolve(id, kind);
        return Bind(entry, settings);
    }

    public static BoundMethod Bind(MethodEntry entry, IReadOnlyDictionary<string, string>? settings = null) =>
        new(entry, MethodCatalog.BindOptions(entry, settings ?? new Dictionary<string, string>()));

    /// <summary>
    /// The core every extension point shares: construct through DI, seed libtorch's global generator with the
    /// context's seed, invoke, then <paramref name="violation"/> (a post-condition: null when the result is sound).
    /// </summary>
    public TResult Run<TMethod, TResult>(BoundMethod method, MethodContext context, Func<TMethod, TResult> invoke,
        Func<TResult, string?>? violation = null) where TMethod : class
    {
        if (!ReferenceEquals(context.Options, method.Options) && context.Options.GetType() != method.Options.GetType())
            throw new ArgumentException($"the context's options are {context.Options.GetType().Name}, the method's {method.Options.GetType().Name}", nameof(context));
        var instance = MethodCatalog.Create<TMethod>(method.Entry, services);
        random.manual_seed(context.Seed);
        var result = MethodInvoker.Invoke(method.Entry, () => invoke(instance));
        if (violation?.Invoke(result) is { } why)
        {
            (result as IDisposable)?.Dispose();
            throw new MethodFailedException(method.Entry, new InvalidOperationException(why));
        }
        return result;
    }

    /// <summary>
    /// Fits a decomposer. Post-conditions: a decomposition is returned, its d_in is the activations' width and, without
    /// targets, its d_out too. Stamped: <see cref="Decomposition.Metadata"/> (method, seed, options, hook name).
    /// </summary>
    public Decomposition Fit(BoundMethod method, DecomposeContext context)
    {
        var fitted = Run<Decomposer, Decomposition>(method, context, d => d.Fit(context), d =>
            d is null ? "returned no decomposition"
            : d.DIn != context.Activations.Dimension ? $"returned a decomposition with d_in {d.DIn} for activations of dimension {context.Activations.Dimension}"
            : context.Targets is null && d.DOut != context.Activations.Dimension ? $"returned a decomposition with d_out {d.DOut} but no targets were given"
            : context.Targets is not null && d.ReconstructsTargets && d.DOut != context.Targets.Dimension ? $"returned a decomposition with d_out {d.DOut} for targets of dimension {context.Targets.Dimension}"
            : null);
        fitted.Metadata = new DecompositionMetadata
        {
            Method = method.Id, Seed = context.Seed, HookName = context.HookName ?? fitted.Metadata.HookName,
            Options = method.OptionValues,
        };
        return fitted;
    }

    /// <summary>
    /// Runs an attribution method. Post-conditions: scores are returned, and every hook the method added is removed
    /// (the model's hook count is back where it was).
    /// </summary>
    public AttributionResult Attribute(BoundMethod method, AttributionContext context)
    {
        int hooksBefore = context.Model.ActiveHookCount;
        return Run<AttributionMethod, AttributionResult>(method, context, m => m.Attribute(context), r =>
            r?.Scores is null ? "returned no scores"
            : context.Model.ActiveHookCount != hooksBefore ? $"left {context.Model.ActiveHookCount - hooksBefore} hook(s) registered on the model"
            : null);
    }

    /// <summary>Runs an interpreter. Post-condition: every explanation names a feature of the decomposition, once.</summary>
    public IReadOnlyList<FeatureExplanation> Interpret(BoundMethod method, InterpretContext context)
    {
        int hooksBefore = context.Model?.ActiveHookCount ?? 0;
        return Run<Interpreter, IReadOnlyList<FeatureExplanation>>(method, context, i => i.Interpret(context), r =>
            r is null ? "returned no explanations"
            : r.FirstOrDefault(e => e.Feature < 0 || e.Feature >= context.Decomposition.DSae) is { } bad ? $"explained feature {bad.Feature}, outside 0 … {context.Decomposition.DSae - 1}"
            : r.GroupBy(e => e.Feature).FirstOrDefault(g => g.Count() > 1) is { } twice ? $"explained feature {twice.Key} twice"
            : (context.Model?.ActiveHookCount ?? 0) != hooksBefore ? "left hooks registered on the model"
            : null);
    }

    /// <summary>
    /// Runs a validator with a context from <paramref name="createContext"/> (given the sinks for findings and
    /// measurements). A validator that throws adds MECH0001 to what it reported before; reporting a check that is not
    /// among its <see cref="Validator.SupportedChecks"/> (or MECH0013, which every validator may report) is MECH0001 too.
    /// </summary>
    public ValidationRun Validate(BoundMethod method, Func<Action<Finding>, Action<Measurement>, ValidationContext> createContext)
    {
        Validator validator;
        try
        {
            validator = MethodCatalog.Create<Validator>(method.Entry, services);
        }
        catch (MethodFailedException e)
        {
            return new ValidationRun([e.ToFinding()], []);
        }
        return Validate(method, validator, createContext);
    }

    /// <summary>Runs an already constructed <paramref name="validator"/> (see the other overload).</summary>
    public static ValidationRun Validate(BoundMethod method, Validator validator, Func<Action<Finding>, Action<Measurement>, ValidationContext> createContext)
    {
        var findings = new List<Finding>();
        var measurements = new List<Measurement>();
        try
        {
            var context = createContext(findings.Add, measurements.Add);
            random.manual_seed(context.Seed);
            MethodInvoker.Invoke(method.Entry, () =>
            {
                validator.Validate(context);
                return 0;
            });
            var declared = validator.SupportedChecks;
            var undeclared = findings.Select(f => f.Id).Concat(measurements.Select(m => m.Id))
                .FirstOrDefault(id => id != ValidatorChecks.CouldNotRun.Id && !declared.Any(c => c.Id == id));
            if (undeclared is not null)
                throw new MethodFailedException(method.Entry, new InvalidOperationException(
                    $"reported check {undeclared}, which is not among its SupportedChecks"));
        }
        catch (MethodFailedException e)
        {
            findings.Add(e.ToFinding());
        }
        return new ValidationRun(findings, measurements);
    }

    /// <summary>
    /// Loads a model folder through the model loader whose ID is <paramref name="modelType"/> (the folder's
    /// <c>config.json</c> <c>model_type</c>). Post-condition: the loaded model reports that type.
    /// </summary>
    public IHookedModel LoadModel(string folder, JsonObject config, string modelType, Device device, int seed, CancellationToken cancellation = default)
    {
        BoundMethod method;
        try
        {
            method = Bind(modelType, MethodKind.ModelLoader);
        }
        catch (MechanistInputException e)
        {
            // An unknown model_type names the config file it came from.
            throw new MechanistInputException($"{Path.Combine(folder, ModelConfig.FileName)}: 'model_type': {e.Message}", e);
        }
        var context = new ModelLoadContext
        {
            Folder = Path.GetFullPath(folder), Config = config, Options = method.Options, Device = device, Seed = seed, CancellationToken = cancellation,
        };
        return Run<ModelLoader, IHookedModel>(method, context, l => l.Load(context), m =>
            m is null ? "returned no model"
            : m.ModelType != modelType ? $"returned a model of type '{m.ModelType}' for model_type '{modelType}'"
            : null);
    }
}
