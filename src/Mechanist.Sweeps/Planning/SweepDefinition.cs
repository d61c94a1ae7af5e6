namespace Mechanist.Sweeps.Planning;

/// <summary>
/// A sweep file as read (<see cref="SweepFile"/>): the inputs, the grid (methods × options × sites × seeds) and
/// the explicit jobs, with every path made absolute against the file's folder. <see cref="SweepPlanner"/> expands it
/// into jobs.
/// </summary>
public sealed record SweepDefinition
{
    /// <summary>The sweep file, absolute.</summary>
    public string SourcePath { get; init; } = "";

    public string? Name { get; init; }

    /// <summary>Activations to fit (file or store), absent when <see cref="Harvest"/> makes them.</summary>
    public string? Activations { get; init; }

    public HarvestSpec? Harvest { get; init; }

    /// <summary>The site axis; one null entry means the input's single matrix or only site.</summary>
    public IReadOnlyList<string?> Sites { get; init; } = [null];

    public string? Targets { get; init; }

    public string? GroundTruth { get; init; }

    public IReadOnlyList<MethodGrid> Methods { get; init; } = [];

    /// <summary>Options given to every method that has them, unless its own grid names them; each a grid axis.</summary>
    public IReadOnlyList<KeyValuePair<string, IReadOnlyList<string>>> CommonOptions { get; init; } = [];

    public IReadOnlyList<int> Seeds { get; init; } = [0];

    public IReadOnlyList<ExplicitJob> Jobs { get; init; } = [];

    /// <summary><c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    public string Device { get; init; } = "auto";

    public int CheckpointEvery { get; init; } = SweepFile.DefaultCheckpointEvery;

    public IReadOnlyList<string> Plugins { get; init; } = [];

    public string? Out { get; init; }

    /// <summary><c>redis://HOST:PORT</c> to run on a cluster; null for the embedded silo.</summary>
    public string? Cluster { get; init; }
}

/// <summary>One method of the grid and its option axes (a scalar is an axis of one value).</summary>
public sealed record MethodGrid(string Method, IReadOnlyList<KeyValuePair<string, IReadOnlyList<string>>> Axes);

/// <summary>A job listed by hand under <c>jobs</c>.</summary>
public sealed record ExplicitJob(string Method, IReadOnlyDictionary<string, string> Options, string? Site, int Seed);

/// <summary>Harvest the activations first: a model folder run over text or token ids, the hook sites to keep.</summary>
public sealed record HarvestSpec(string Model, string? Text, string? Tokens, IReadOnlyList<string> Sites, int BatchSize, int? Context);
