using Mechanist.IO;

namespace Mechanist.Host.Activations;

/// <summary>
/// The activations a command reads: <c>--activations FILE</c>, or several row-aligned sites as
/// <c>--activations a.safetensors,b.safetensors</c> (seen as their concatenation, and as <see cref="Sites"/> by methods
/// that fit several sites at once), plus optional <c>--targets FILE</c> (a transcoder's MLP output).
/// </summary>
public sealed class ActivationInputs : IDisposable
{
    readonly List<IDisposable> _owned = [];

    ActivationInputs() { }

    public IActivationSource Activations { get; private set; } = null!;

    /// <summary>The sites when more than one was given; null for one.</summary>
    public IReadOnlyList<IActivationSource>? Sites { get; private set; }

    public IActivationSource? Targets { get; private set; }

    /// <summary>The paths as given, for reports.</summary>
    public string Description { get; private set; } = "";

    public static ActivationInputs Load(string activations, string? targets, string? site = null)
    {
        var result = new ActivationInputs();
        try
        {
            var paths = activations.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (paths.Length == 0) throw new MechanistInputException("--activations needs a file (or several, comma-separated).");
            var sites = paths.Select(p => result.Own(ActivationSources.Open(p, site))).ToList();
            result.Description = string.Join(",", paths.Select(Path.GetFullPath));
            if (sites.Count == 1) result.Activations = sites[0];
            else
            {
                result.Sites = sites;
                result.Activations = new ConcatenatedActivations(sites);
            }
            if (targets is not null)
            {
                var t = result.Own(ActivationSources.Open(targets));
                if (t.Count != result.Activations.Count)
                    throw new MechanistInputException(
                        $"{targets}: has {t.Count} rows but the activations have {result.Activations.Count}; targets must be row-aligned with the activations.");
                result.Targets = t;
            }
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    IActivationSource Own(IActivationSource value)
    {
        if (value is IDisposable disposable) _owned.Add(disposable);
        return value;
    }

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        _owned.Clear();
    }
}
