using Mechanist.Decomposers;
using Mechanist.Host;
using Mechanist.Host.Discovery;
using Mechanist.Methods.Evaluation;
using Mechanist.Testing;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

/// <summary>The FastICA plugin, loaded only the way a third-party plugin is: from its build folder.</summary>
public class FastIcaPluginTests
{
    const string PluginName = "Mechanist.Plugins.FastIca";
    const int D = 6;

    static MechanistHost LoadHost(out MethodEntry entry)
    {
        var host = MechanistHost.Create([Repo.Plugin(PluginName)]);
        Assert.Empty(host.Catalog.LoadFindings);
        entry = host.Catalog.Resolve("fastica", MethodKind.Decomposer);
        return host;
    }

    static Decomposition Fit(MechanistHost host, MethodEntry entry, IActivationSource data, Dictionary<string, string> settings,
        int seed = 7, ILogger? logger = null, IProgress<ProgressReport>? progress = null, CancellationToken cancellation = default)
    {
        var options = MethodCatalog.BindOptions(entry, settings);
        var method = MethodCatalog.Create<Decomposer>(entry, host.Services);
        return method.Fit(new DecomposeContext
        {
            Activations = data, Options = options, Seed = seed, Progress = progress, CancellationToken = cancellation,
            Logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
        });
    }

    /// <summary>
    /// x = A s + offset with s six independent unit-variance sources (three uniform, three Laplace) and A a fixed
    /// well-conditioned 6×6 matrix. Returns the activations and A's columns as rows [6, 6].
    /// </summary>
    static ActivationMatrix MixedSources(out Tensor directions, long n = 20000)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(1234);
        var uniform = (rand(n, 3, dtype: ScalarType.Float64, generator: generator) * 2 - 1) * Math.Sqrt(3);
        var e1 = rand(n, 3, dtype: ScalarType.Float64, generator: generator).clamp_min(1e-12).log();
        var e2 = rand(n, 3, dtype: ScalarType.Float64, generator: generator).clamp_min(1e-12).log();
        var laplace = (e1 - e2) / Math.Sqrt(2); // difference of two Exp(1): Laplace(0, 1), variance 2
        var sources = cat([uniform, laplace], 1);
        var mixing = eye(D, dtype: ScalarType.Float64) * 1.5 + randn(D, D, dtype: ScalarType.Float64, generator: generator) * 0.4;
        var singular = linalg.svdvals(mixing);
        Assert.True((singular.max() / singular.min()).item<double>() < 20, "the test mixing matrix should be well conditioned");
        var offset = randn(D, dtype: ScalarType.Float64, generator: generator) * 3;
        var x = sources.matmul(mixing.t()) + offset;
        directions = mixing.t().to(ScalarType.Float32).contiguous().DetachFromDisposeScope();
        return new ActivationMatrix("synthetic", x);
    }

    [Fact]
    public void Loads_from_the_plugin_folder_not_as_a_built_in()
    {
        using var host = LoadHost(out var entry);
        Assert.False(entry.IsBuiltIn);
        Assert.NotEqual("built-in", entry.Source);
        Assert.Equal(Path.GetFullPath(Path.Combine(Repo.Plugin(PluginName), PluginName + ".dll")), entry.Source);
        Assert.Equal("docs/methods/fastica.md", entry.Descriptor.HelpLink);
        Assert.StartsWith("Hyvärinen & Oja 2000", entry.Descriptor.Reference);
        Assert.True(File.Exists(Path.Combine(Repo.Root, "docs", "methods", "fastica.md")));
        Assert.Equal(["components", "max_iterations", "tolerance", "fun", "alpha", "batch_size"],
            entry.Descriptor.Options.Select(o => o.Name));
    }

    [Theory]
    [InlineData("logcosh")]
    [InlineData("exp")]
    [InlineData("cube")]
    public void Recovers_the_mixing_directions_of_independent_sources(string fun)
    {
        using var host = LoadHost(out var entry);
        using var data = MixedSources(out var directions);
        using var _ = directions;
        using var ica = Fit(host, entry, data, new() { ["components"] = "6", ["fun"] = fun });

        Assert.Equal("standard", ica.Architecture);
        Assert.Equal(D, ica.DIn);
        Assert.Equal(2 * D, ica.DSae);
        double mmcs = DecompositionMetrics.ComputeMmcs(directions, ica.DecoderDirections);
        Assert.True(mmcs >= 0.99, $"MMCS {mmcs} with fun={fun}");
        var metrics = DecompositionMetrics.Compute(ica, data);
        Assert.True(metrics.Fvu < 1e-6, $"full-rank ICA should reconstruct exactly; FVU {metrics.Fvu}");
    }

    [Fact]
    public void The_same_seed_gives_the_same_dictionary()
    {
        using var host = LoadHost(out var entry);
        using var data = MixedSources(out var directions);
        directions.Dispose();
        var settings = new Dictionary<string, string> { ["components"] = "6" };
        using var first = Fit(host, entry, data, settings, seed: 11);
        using var second = Fit(host, entry, data, settings, seed: 11);
        Assert.True(Identical(first.DecoderDirections, second.DecoderDirections));
        Assert.True(Identical(first.StateDict()["W_enc"], second.StateDict()["W_enc"]));
    }

    [Fact]
    public void Decoder_rows_are_sign_fixed_and_ordered_by_contributed_variance()
    {
        using var host = LoadHost(out var entry);
        using var data = MixedSources(out var directions);
        directions.Dispose();
        using var ica = Fit(host, entry, data, new() { ["components"] = "6" });
        using var scope = NewDisposeScope();
        var positive = ica.DecoderDirections.narrow(0, 0, D);
        var index = positive.abs().argmax(1, keepdim: true);
        Assert.True((positive.gather(1, index) > 0).all().item<bool>());
        var norms = positive.square().sum(dim: 1).data<float>().ToArray();
        for (int i = 1; i < norms.Length; i++) Assert.True(norms[i - 1] >= norms[i], $"row {i - 1} norm² {norms[i - 1]} < row {i} norm² {norms[i]}");
        // The negative halves mirror the positive ones.
        Assert.True(Identical(ica.DecoderDirections.narrow(0, D, D), -positive));
    }

    [Fact]
    public void Fewer_components_reconstruct_like_pca_with_as_many()
    {
        using var host = LoadHost(out var entry);
        using var data = MixedSources(out var directions);
        directions.Dispose();
        using var ica = Fit(host, entry, data, new() { ["components"] = "3" });
        var pcaEntry = host.Catalog.Resolve("pca", MethodKind.Decomposer);
        using var pca = Fit(host, pcaEntry, data, new() { ["components"] = "3" });
        Assert.Equal(6, ica.DSae);
        double icaFvu = DecompositionMetrics.Compute(ica, data).Fvu, pcaFvu = DecompositionMetrics.Compute(pca, data).Fvu;
        Assert.True(icaFvu > 0.01, $"three of six components cannot reconstruct exactly; FVU {icaFvu}");
        Assert.True(Math.Abs(icaFvu - pcaFvu) < 1e-5, $"ICA on the top-3 principal subspace reconstructs like PCA: {icaFvu} vs {pcaFvu}");
    }

    [Fact]
    public void Components_above_the_dimension_is_an_input_error_naming_the_option()
    {
        using var host = LoadHost(out var entry);
        using var data = MixedSources(out var directions, n: 500);
        directions.Dispose();
        var error = Assert.Throws<MechanistInputException>(() => Fit(host, entry, data, new() { ["components"] = "7" }));
        Assert.Contains("components", error.Message);
        Assert.Contains("synthetic", error.Message);
    }

    [Fact]
    public void Components_above_the_rank_of_the_covariance_is_an_input_error_naming_the_option()
    {
        using var host = LoadHost(out var entry);
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        var lowRank = randn(1000, 3, dtype: ScalarType.Float64, generator: generator)
            .matmul(randn(3, D, dtype: ScalarType.Float64, generator: generator));
        using var data = new ActivationMatrix("synthetic", lowRank);
        var error = Assert.Throws<MechanistInputException>(() => Fit(host, entry, data, new() { ["components"] = "4" }));
        Assert.Contains("components", error.Message);
        Assert.Contains("3 dimension", error.Message);
    }

    [Fact]
    public void An_unknown_option_suggests_the_closest_name()
    {
        using var host = LoadHost(out var entry);
        var error = Assert.Throws<MechanistInputException>(() =>
            MethodCatalog.BindOptions(entry, new Dictionary<string, string> { ["componets"] = "4" }));
        Assert.Contains("'componets'", error.Message);
        Assert.Contains("Did you mean 'components'?", error.Message);
    }

    [Theory]
    [InlineData("components", "0")]
    [InlineData("max_iterations", "0")]
    [InlineData("tolerance", "0")]
    [InlineData("alpha", "2.5")]
    [InlineData("batch_size", "0")]
    [InlineData("fun", "tanh")]
    public void Bad_option_values_are_input_errors_naming_the_option(string option, string value)
    {
        using var host = LoadHost(out var entry);
        var error = Assert.Throws<MechanistInputException>(() =>
            MethodCatalog.BindOptions(entry, new Dictionary<string, string> { [option] = value }));
        Assert.Contains(option, error.Message);
    }

    [Fact]
    public void Stopping_before_convergence_logs_a_warning_and_reports_progress()
    {
        using var host = LoadHost(out var entry);
        using var data = MixedSources(out var directions, n: 2000);
        directions.Dispose();
        var logger = new ListLogger();
        var progress = new ListProgress();
        using var ica = Fit(host, entry, data, new() { ["components"] = "6", ["max_iterations"] = "2", ["tolerance"] = "1e-12" },
            logger: logger, progress: progress);
        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("did not converge"));
        Assert.Equal([1L, 2L], progress.Reports.Select(r => r.Step));
        Assert.All(progress.Reports, r => Assert.Equal(2, r.Total));
    }

    [Fact]
    public void A_cancelled_fit_stops()
    {
        using var host = LoadHost(out var entry);
        using var data = MixedSources(out var directions, n: 500);
        directions.Dispose();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            Fit(host, entry, data, new() { ["components"] = "6" }, cancellation: cancelled.Token));
    }

    /// <summary>torch.equal: same shape and every element equal.</summary>
    static bool Identical(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
    }

    sealed class ListLogger : ILogger
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, formatter(state, exception)));
    }

    sealed class ListProgress : IProgress<ProgressReport>
    {
        public List<ProgressReport> Reports { get; } = [];

        public void Report(ProgressReport value) => Reports.Add(value);
    }
}
