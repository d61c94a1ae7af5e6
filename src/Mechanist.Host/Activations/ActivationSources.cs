using Mechanist.IO;

namespace Mechanist.Host.Activations;

/// <summary>
/// Opens activations wherever they are: an activation store folder (streamed), a <c>.safetensors</c> file, or a
/// <c>.npy</c> array. A store or file may hold several hook sites: <c>site</c> picks one (a tensor name in a file;
/// by default <c>activations</c>, the single-matrix convention; in a store, by default its only site).
/// </summary>
public static class ActivationSources
{
    /// <summary>Opens <paramref name="path"/>; dispose the result when it is <see cref="IDisposable"/>.</summary>
    public static IActivationSource Open(string path, string? site = null)
    {
        if (Directory.Exists(path))
        {
            if (!ActivationStore.IsStore(path))
                throw new MechanistInputException(
                    $"{path}: a folder without {ActivationStore.ManifestFile}; expected an activation store (from 'mechanist harvest --out FOLDER'), a .safetensors file or a .npy array.");
            return ActivationStore.Open(path).Site(site);
        }
        if (site is not null && Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase))
            throw new MechanistInputException($"{path}: a .npy array holds one matrix; --site '{site}' applies to .safetensors files and activation stores.");
        return ActivationFiles.Load(path, site ?? ActivationFiles.TensorName);
    }

    /// <summary>The hook site a source holds when known: a store site's name, else <paramref name="requested"/>.</summary>
    public static string? SiteName(IActivationSource source, string? requested) =>
        source is StoreSiteSource store ? store.Site : requested;
}
