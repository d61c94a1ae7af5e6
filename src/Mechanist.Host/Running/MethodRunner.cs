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
    /// The time budget of every method run (<see cref="TimeBudgets.None"/>: unlimited, on the calling thread). With a
    /// budget, a run happens on a thread of its own; one that exceeds its budget is asked to stop (its context's
    /// cancellation token is cancelled), given a short grace, and reported as <see cref="MethodTimedOutException"/>
    /// (MECH0005).
    /// </summary>
    public TimeBudgets Budgets { get; init; } = TimeBudgets.None;

    /// <summary>
    /// The first run that exceeded its budget and did not stop when asked: its thread may still be using what it was
    /// given (the model, a decomposition), so nothing else should run on them, nor should they be disposed.
    /// </summary>
    public MethodTimedOutException? Hung { get; private set; }

    /// <summary>
    /// Treats a run that exceeded its budget as hung although it stopped: what it left behind (a hook on the shared
    /// model) makes every later run on the same inputs untrustworthy.
    /// </summary>
    public void Abandon(MethodTimedOutException timedOut) => Hung ??= timedOut;

    /// <summary>
    /// The core every extension point shares: construct through DI, seed libtorch's global generator with the
    /// context's seed, invoke, then <paramref name="violation"/> (a post-condition: null when the result is sound).
    /// </summary>
    public TResult Run<TMethod, TResult>(BoundMethod method, MethodContext context, Func<TMethod, TResult> invoke,
        Func<TResult, string?>? violation = null) where TMethod : class =>
        Run<TMethod, TResult>(method, _ => context, (m, _) => invoke(m), violation);

    /// <summary>
    /// As the other overload, with the context made by <paramref name="createContext"/> from the run's cancellation
    /// token: cancelled when the caller's is, and when the run exceeds its time budget.
    /// </summary>
    public TResult Run<TMethod, TResult>(BoundMethod method, Func<CancellationToken, MethodContext> createContext,
        Func<TMethod, MethodContext, TResult> invoke, Func<TResult, string?>? violation = null) where TMethod : class
    {
        var result = Within(method.Entry, CancellationToken.None, token =>
        {
            var context = createContext(token);
            if (!ReferenceEquals(context.Options, method.Options) && context.Options.GetType() != method.Options.GetType())
                throw new ArgumentException($"the context's options are {context.Options.GetType().Name}, the method's {method.Options.GetType().Name}", nameof(createContext));
            var instance = MethodCatalog.Create<TMethod>(method.Entry, services);
            random.manual_seed(context.Seed);
            return MethodInvoker.Invoke(method.Entry, () => invoke(instance, context));
        });
        if (violation?.Invoke(result) is { } why)
        {
            (result as IDisposable)?.Dispose();
            throw new MethodFailedException(method.Entry, new InvalidOperationException(why));
        }
        return result;
    }

    /// <summary>The checks a validator declares (<see cref="Validator.SupportedChecks"/>), within its time budget.</summary>
    public IReadOnlyList<CheckDescriptor> Declare(MethodEntry validator) =>
        Within(validator, CancellationToken.None, _ => MethodInvoker.Invoke(validator, () => MethodCatalog.Create<Validator>(validator, services).SupportedChecks));

    /// <summary>
    /// Runs <paramref name="call"/> within the entry's time budget: on the calling thread when there is none, else on a
    /// thread of its own, cancelled (cooperatively) when the budget is spent. A run that does not stop within a grace
    /// period after that is left behind (<see cref="Hung"/>). Either way <see cref="MethodTimedOutException"/> is thrown.
    /// </summary>
    T Within<T>(MethodEntry entry, CancellationToken outer, Func<CancellationToken, T> call)
    {
        if (Hung is not null)
            throw new MethodNotRunException(entry, Hung);
        var budget = Budgets.For(entry.Id);
        if (budget is null) return call(outer);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        T result = default!;
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? error = null;
        using var done = new ManualResetEventSlim();
        var thread = new Thread(() =>
        {
            try { result = call(cts.Token); }
            catch (Exception e) { error = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e); }
            finally { done.Set(); }
        }, 16 * 1024 * 1024) { IsBackground = true, Name = $"mechanist {entry.Kind.ToName()} {entry.Id}" };
        var watch = System.Diagnostics.Stopwatch.StartNew();
        thread.Start();
        if (!done.Wait(budget.Value))
        {
            cts.Cancel();
            bool stopped = done.Wait(TimeBudgets.Grace(budget.Value));
            if (stopped && error is null) (result as IDisposable)?.Dispose();
            var timedOut = new MethodTimedOutException(entry, budget.Value, stopped);
            if (!stopped) Hung = timedOut;
            throw timedOut;
        }
        error?.Throw();
        return result;
    }

    /// <summary>
    /// Fits a decomposer. Post-conditions: a decomposition is returned, its d_in is the activations' width and, without
    /// targets, its d_out too. Stamped: <see cref="Decomposition.Metadata"/> (method, seed, options, hook name).
    /// </summary>
    public Decomposition Fit(BoundMethod method, DecomposeContext context) => Fit(method, _ => context);

    /// <summary>Fits a decomposer on a context made from the run's cancellation token (see <see cref="Budgets"/>).</summary>
    public Decomposition Fit(BoundMethod method, Func<CancellationToken, DecomposeContext> createContext)
    {
        DecomposeContext? made = null;
        DecomposeContext Make(CancellationToken token) => made = createContext(token);
        var fitted = Run<Decomposer, Decomposition>(method, Make, (d, c) => d.Fit((DecomposeContext)c), d =>
            d is null ? "returned no decomposition"
            : d.DIn != made!.Activations.Dimension ? $"returned a decomposition with d_in {d.DIn} for activations of dimension {made.Activations.Dimension}"
            : made.Targets is null && d.DOut != made.Activations.Dimension ? $"returned a decomposition with d_out {d.DOut} but no targets were given"
            : made.Targets is not null && d.ReconstructsTargets && d.DOut != made.Targets.Dimension ? $"returned a decomposition with d_out {d.DOut} for targets of dimension {made.Targets.Dimension}"
            : null);
        var context = made!;
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
    public AttributionResult Attribute(BoundMethod method, AttributionContext context) => Attribute(method, _ => context);

    /// <summary>Runs an attribution method on a context made from the run's cancellation token (see <see cref="Budgets"/>).</summary>
    public AttributionResult Attribute(BoundMethod method, Func<CancellationToken, AttributionContext> createContext)
    {
        AttributionContext? made = null;
        int hooksBefore = 0;
        AttributionContext Make(CancellationToken token)
        {
            made = createContext(token);
            hooksBefore = made.Model.ActiveHookCount;
            return made;
        }
        return Run<AttributionMethod, AttributionResult>(method, Make, (m, c) => m.Attribute((AttributionContext)c), r =>
            r?.Scores is null ? "returned no scores"
            : made!.Model.ActiveHookCount != hooksBefore ? $"left {made.Model.ActiveHookCount - hooksBefore} hook(s) registered on the model"
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
    /// among its <see cref="Validator.SupportedChecks"/> (or MECH0013, which every validator may report), or leaving a
    /// hook on the model, is MECH0001 too.
    /// </summary>
    public ValidationRun Validate(BoundMethod method, Func<Action<Finding>, Action<Measurement>, ValidationContext> createContext) =>
        Validate(method, (report, measure, _) => createContext(report, measure));

    /// <summary>
    /// Runs a validator with a context made from the sinks and the run's cancellation token (see <see cref="Budgets"/>).
    /// A run that exceeds its budget throws <see cref="MethodTimedOutException"/> (what it reported before is lost: a
    /// check that did not finish did not pass).
    /// </summary>
    public ValidationRun Validate(BoundMethod method, Func<Action<Finding>, Action<Measurement>, CancellationToken, ValidationContext> createContext) =>
        Within(method.Entry, CancellationToken.None, token =>
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
            return Validate(method, validator, (report, measure) => createContext(report, measure, token));
        });

    /// <summary>Runs an already constructed <paramref name="validator"/> (see the other overload).</summary>
    public static ValidationRun Validate(BoundMethod method, Validator validator, Func<Action<Finding>, Action<Measurement>, ValidationContext> createContext)
    {
        var findings = new List<Finding>();
        var measurements = new List<Measurement>();
        try
        {
            var context = createContext(findings.Add, measurements.Add);
            int hooksBefore = context.Model?.ActiveHookCount ?? 0;
            random.manual_seed(context.Seed);
            MethodInvoker.Invoke(method.Entry, () =>
            {
                validator.Validate(context);
                return 0;
            });
            // Like attribution methods and interpreters, a validator must remove every hook it adds (even on error; a
            // throw above is already MECH0001).
            if (context.Model is { } model && model.ActiveHookCount != hooksBefore)
                throw new MethodFailedException(method.Entry, new InvalidOperationException(
                    $"left {model.ActiveHookCount - hooksBefore} hook(s) registered on the model"));
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
        return Run<ModelLoader, IHookedModel>(method, token => new ModelLoadContext
        {
            Folder = Path.GetFullPath(folder), Config = config, Options = method.Options, Device = device, Seed = seed,
            CancellationToken = CancellationTokenSource.CreateLinkedTokenSource(cancellation, token).Token,
        }, (l, c) => l.Load((ModelLoadContext)c), m =>
            m is null ? "returned no model"
            : m.ModelType != modelType ? $"returned a model of type '{m.ModelType}' for model_type '{modelType}'"
            : null);
    }
}
