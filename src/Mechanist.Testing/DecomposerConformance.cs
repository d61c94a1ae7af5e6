using Mechanist.Decomposers;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Host.Running;
using static TorchSharp.torch;

namespace Mechanist.Testing;

/// <summary>
/// A decomposer: fits a tiny input through the host's runner (its post-conditions included), gives finite weights, the
/// same weights bit for bit from a second fit with the same seed, and saves in SAELens layout (nothing but cfg.json
/// and sae_weights.safetensors) to a folder that loads back to the same tensors and the same latents.
/// </summary>
internal static class DecomposerConformance
{
    public static void Verify(MethodHost host, MethodEntry entry, ConformanceOptions options, Failures f)
    {
        using var data = new ActivationMatrix("tiny", options.Activations?.Invoke() ?? randn(256, 32, generator: new Generator(11)).pow(3));
        // Row-aligned targets of another width, for decomposers that map input to output (a transcoder); others ignore them.
        using var targets = new ActivationMatrix("tiny-targets", randn(data.Count, 16, generator: new Generator(12)));
        var runner = MethodRunner.For(host.Host);
        BoundMethod? bound = null;
        f.Check("its options bind", () => bound = MethodRunner.Bind(entry, options.Options));
        if (bound is null) return;
        Decomposition Fit() => runner.Fit(bound, new DecomposeContext
        {
            Activations = data, Targets = targets, Options = bound.Options, Seed = options.Seed, HookName = "blocks.0.hook_resid_post",
        });

        Decomposition? first = null;
        try
        {
            f.Check($"it fits {data.Count} x {data.Dimension} activations", () =>
            {
                first = Fit();
                Failures.That(first.DSae > 0, "the decomposition has no latents");
                foreach (var (name, t) in first.StateDict())
                    Failures.That(isfinite(t).all().item<bool>(), $"{name} {Tensors.Shape(t)} holds NaN or infinity");
            });
            if (first is null) return;
            f.Check($"two fits with seed {options.Seed} agree bit for bit", () =>
            {
                using var second = Fit();
                foreach (var (name, t) in first.StateDict())
                {
                    Failures.That(second.StateDict().TryGetValue(name, out var u), $"the second fit has no {name}");
                    Failures.That(Tensors.Identical(t, u!), $"{name} differs (max |Δ| {Tensors.MaxDifference(t, u!):G4}): seed every random choice with the context's generator (context.CreateGenerator())");
                }
            });
            f.Check("it saves in SAELens layout and loads back to the same tensors and latents", () =>
            {
                var root = Path.Combine(Path.GetTempPath(), "mechanist-testing", "saelens-" + Guid.NewGuid().ToString("N")[..12]);
                try
                {
                    var folder = Path.Combine(root, "out");
                    DecompositionFolder.Save(folder, first);
                    var written = Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
                        .Select(p => Path.GetRelativePath(root, p).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();
                    Failures.That(written.SequenceEqual(["out", "out/cfg.json", "out/sae_weights.safetensors"]), $"the folder holds {string.Join(", ", written)}, not exactly cfg.json and sae_weights.safetensors");
                    using var loaded = DecompositionFolder.Load(folder);
                    Failures.That(loaded.Architecture == first.Architecture, $"it saved architecture '{first.Architecture}' and loaded as '{loaded.Architecture}'");
                    foreach (var (name, t) in first.StateDict())
                        Failures.That(loaded.StateDict().TryGetValue(name, out var u) && Tensors.Identical(t, u), $"{name} does not load back bit for bit");
                    using var encoded = first.Encode(data.Data);
                    using var reloaded = loaded.Encode(data.Data);
                    Failures.That(Tensors.Identical(encoded, reloaded), $"the loaded decomposition encodes differently (max |Δ| {Tensors.MaxDifference(encoded, reloaded):G4})");
                }
                finally
                {
                    try { Directory.Delete(root, recursive: true); } catch (IOException) { }
                }
            });
        }
        finally
        {
            first?.Dispose();
        }
    }
}
