using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Methods.Attribution;

/// <summary>Options shared by activation and attribution patching.</summary>
public record PatchingOptions : MethodOptions
{
    [Option("what one patch replaces: site (the whole activation), position (one position; sites without one count as a whole), head (one position of one attention head, for [batch, pos, head, d_head] sites; other sites count by position), or element")]
    public PatchGranularity Granularity { get; init; } = PatchGranularity.Position;

    [Option("denoising (clean activations into the corrupted run) or noising (corrupted activations into the clean run)")]
    public PatchDirection Direction { get; init; } = PatchDirection.Denoising;
}

/// <summary>What one patch replaces: a whole site, one position of it, one head at one position, or one element.</summary>
public enum PatchGranularity
{
    Site,
    Position,
    Element,

    /// <summary>One attention head at one position of a [batch, pos, head, d_head] site (q, k, v, z); other sites count by position.</summary>
    Head,
}

/// <summary>
/// Denoising patches the clean run's activation into the corrupted run (score: M(patched) − M(corrupted));
/// noising patches the corrupted activation into the clean run (score: M(patched) − M(clean)).
/// </summary>
public enum PatchDirection
{
    Denoising,
    Noising,
}

/// <summary>
/// The units of one site at a granularity: how many, their labels, the mask each one patches, and how elementwise
/// contributions sum into unit scores. The position axis is 1 ([batch, pos, …]) except for attention scores and
/// patterns ([batch, head, query, key]), where it is the query axis, 2. Sites without a position axis ([batch, d])
/// count as one unit at position granularity.
/// </summary>
internal sealed class PatchingUnits
{
    readonly long[] _exampleShape;
    readonly int _positionAxis;

    PatchingUnits(string site, PatchGranularity granularity, long[] exampleShape)
    {
        Site = site;
        _exampleShape = exampleShape;
        _positionAxis = PositionAxis(site, exampleShape.Length + 1);
        if (granularity == PatchGranularity.Head && !HasHeads(site, exampleShape.Length + 1)) granularity = PatchGranularity.Position;
        Granularity = granularity == PatchGranularity.Position && _positionAxis < 0 ? PatchGranularity.Site : granularity;
        Count = Granularity switch
        {
            PatchGranularity.Site => 1,
            PatchGranularity.Position => (int)exampleShape[_positionAxis - 1],
            PatchGranularity.Head => checked((int)(exampleShape[0] * exampleShape[1])),
            _ => checked((int)exampleShape.Aggregate(1L, (a, b) => a * b)),
        };
    }

    public string Site { get; }
    public PatchGranularity Granularity { get; }
    public int Count { get; }

    public static PatchingUnits For(string site, PatchGranularity granularity, Tensor activation) =>
        new(site, granularity, activation.shape.Skip(1).ToArray());

    /// <summary>1 (or 2 for attention scores and patterns) when the activation [batch, …] has a position axis; −1 otherwise.</summary>
    public static int PositionAxis(string site, long ndim)
    {
        if (ndim < 3) return -1;
        return site.EndsWith("hook_pattern", StringComparison.Ordinal) || site.EndsWith("hook_attn_scores", StringComparison.Ordinal) ? 2 : 1;
    }

    /// <summary>Whether activations of <paramref name="ndim"/> dimensions at <paramref name="site"/> are [batch, pos, head, d_head].</summary>
    public static bool HasHeads(string site, long ndim) => ndim == 4 && PositionAxis(site, ndim) == 1;

    /// <summary>Heads per position when <see cref="Granularity"/> is <see cref="PatchGranularity.Head"/>.</summary>
    public int Heads => Granularity == PatchGranularity.Head ? (int)_exampleShape[1] : 1;

    public string Label(int unit) => Granularity switch
    {
        PatchGranularity.Site => Site,
        PatchGranularity.Position => $"{Site}@pos{unit}",
        PatchGranularity.Head => $"{Site}@pos{unit / _exampleShape[1]}.head{unit % _exampleShape[1]}",
        _ => $"{Site}[{string.Join(",", Unravel(unit))}]",
    };

    IEnumerable<long> Unravel(int unit)
    {
        var index = new long[_exampleShape.Length];
        long rest = unit;
        for (int d = _exampleShape.Length - 1; d >= 0; d--)
        {
            index[d] = rest % _exampleShape[d];
            rest /= _exampleShape[d];
        }
        return index;
    }

    /// <summary>Boolean masks [units, …example shape] of the given units.</summary>
    public Tensor Masks(int first, int count, Device device)
    {
        var shape = new long[_exampleShape.Length + 1];
        shape[0] = count;
        _exampleShape.CopyTo(shape, 1);
        switch (Granularity)
        {
            case PatchGranularity.Site:
                return ones(shape, ScalarType.Bool, device);
            case PatchGranularity.Position:
            {
                var mask = zeros(shape, ScalarType.Bool, device);
                for (int u = 0; u < count; u++)
                    mask[u].narrow(_positionAxis - 1, first + u, 1).fill_(true);
                return mask;
            }
            case PatchGranularity.Head:
            {
                var mask = zeros(shape, ScalarType.Bool, device);
                long heads = _exampleShape[1];
                for (int u = 0; u < count; u++)
                    mask[u].narrow(0, (first + u) / heads, 1).narrow(1, (first + u) % heads, 1).fill_(true);
                return mask;
            }
            default:
            {
                long per = _exampleShape.Aggregate(1L, (a, b) => a * b);
                var flat = zeros(count, per, ScalarType.Bool, device);
                for (int u = 0; u < count; u++) flat[u, first + u].fill_(true);
                return flat.view(shape);
            }
        }
    }

    /// <summary>Elementwise contributions [batch, …] summed into unit scores [batch, units].</summary>
    public Tensor Reduce(Tensor contributions)
    {
        long batch = contributions.shape[0];
        switch (Granularity)
        {
            case PatchGranularity.Site:
                return contributions.reshape(batch, -1).sum(dim: 1, keepdim: true);
            case PatchGranularity.Position:
            {
                var dims = Enumerable.Range(1, (int)contributions.ndim - 1).Where(d => d != _positionAxis).Select(d => (long)d).ToArray();
                return dims.Length == 0 ? contributions : contributions.sum(dims);
            }
            case PatchGranularity.Head:
                return contributions.sum(dim: 3).reshape(batch, -1);
            default:
                return contributions.reshape(batch, -1);
        }
    }

    /// <summary>The sites' units as a flat list of labels and the per-site parts, joined along the last axis.</summary>
    public static (Tensor Scores, List<string> Labels, Dictionary<string, Tensor> Parts) Join(IReadOnlyList<(PatchingUnits Units, Tensor Scores)> sites)
    {
        var labels = new List<string>();
        var parts = new Dictionary<string, Tensor>();
        foreach (var (units, scores) in sites)
        {
            for (int u = 0; u < units.Count; u++) labels.Add(units.Label(u));
            parts[units.Site] = scores;
        }
        return (cat(sites.Select(s => s.Scores).ToList(), 1), labels, parts);
    }

    public static Dictionary<string, string> Describe(PatchGranularity granularity, PatchDirection direction, IReadOnlyList<string> sites) => new()
    {
        ["granularity"] = OptionSchema.FormatValue(granularity),
        ["direction"] = OptionSchema.FormatValue(direction),
        ["sites"] = string.Join(",", sites),
    };
}
