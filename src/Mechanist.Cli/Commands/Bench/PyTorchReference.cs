using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands.Bench;

/// <summary>
/// The plain PyTorch TopK SAE of <c>bench/sae_topk_reference.py</c> (dense latents, dense decode, torch.optim.Adam, as
/// the Python field writes it), run by a Python that has PyTorch (Debian's <c>python3-torch</c> at /usr/bin/python3
/// by default) for <c>mechanist bench sae --reference pytorch</c>. The script is part of the repository, not of the
/// product: it is found by walking up from the working directory and from the program's folder.
/// </summary>
sealed class PyTorchReference
{
    public const string ScriptPath = "bench/sae_topk_reference.py";
    public const string DefaultPython = "/usr/bin/python3";

    public string Python { get; }
    public string Script { get; }
    public string TorchVersion { get; }

    PyTorchReference(string python, string script, string torchVersion) => (Python, Script, TorchVersion) = (python, script, torchVersion);

    /// <summary>The reference, or null with the reason it cannot run (one line for the report).</summary>
    public static PyTorchReference? Locate(string? python, string? script, out string whyNot)
    {
        python ??= DefaultPython;
        whyNot = "";
        if (!File.Exists(python))
        {
            whyNot = $"{python} not found (install Debian's python3-torch: apt-get install python3-torch, or pass --python)";
            return null;
        }
        script ??= FindScript();
        if (script is null || !File.Exists(script))
        {
            whyNot = $"{script ?? ScriptPath} not found (run from the repository, or pass --reference-script)";
            return null;
        }
        var (code, output, error) = RunProcess(python, ["-c", "import numpy, torch; print(torch.__version__)"], TimeSpan.FromSeconds(120));
        if (code != 0)
        {
            var reason = error.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()?.Trim() ?? $"exit {code}";
            whyNot = $"{python} cannot import torch and numpy ({reason}; apt-get install python3-torch)";
            return null;
        }
        return new PyTorchReference(python, Path.GetFullPath(script), output.Trim());
    }

    static string? FindScript()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, ScriptPath);
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }

    /// <summary>Runs the script; its one JSON line on stdout is the result. Throws with the script's last error line.</summary>
    public JsonObject Run(IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        var (code, output, error) = RunProcess(Python, [Script, .. arguments], timeout);
        if (code != 0)
            throw new InvalidOperationException($"{Script} exited with {code}: {error.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()?.Trim()}");
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()
            ?? throw new InvalidOperationException($"{Script} printed nothing");
        return JsonNode.Parse(last)?.AsObject() ?? throw new InvalidOperationException($"{Script} printed '{last}', not a JSON object");
    }

    static (int Code, string Output, string Error) RunProcess(string file, IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        // The same runtime settings as this process: passive OpenMP waiting on shared cores, libtorch's thread count.
        info.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        info.Environment["OMP_NUM_THREADS"] = get_num_threads().ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(" ", arguments.Take(2))} did not finish in {timeout.TotalSeconds:0} s");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    /// <summary>Writes a float32 2-D tensor as a NumPy .npy file (version 1.0, C order).</summary>
    public static void WriteNpy(string path, Tensor matrix)
    {
        var data = matrix.to(ScalarType.Float32).cpu().contiguous();
        var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({data.shape[0]}, {data.shape[1]}), }}";
        int total = 10 + header.Length + 1;
        header += new string(' ', (64 - total % 64) % 64) + "\n";
        using var stream = File.Create(path);
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        stream.Write(BitConverter.GetBytes((ushort)header.Length));
        stream.Write(Encoding.ASCII.GetBytes(header));
        data.WriteBytesToStream(stream, 1 << 20);
    }
}
