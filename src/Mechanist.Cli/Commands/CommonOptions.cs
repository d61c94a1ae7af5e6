using Mechanist.Cli.CommandLine;
using Mechanist.Host;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>Options shared by commands, spelt the same everywhere (design reference §11).</summary>
public static class CommonOptions
{
    public static readonly OptionSpec Plugins = new("plugins", "a plugin folder or .dll (repeatable)", Repeatable: true, ValueName: "DIR");
    public static readonly OptionSpec Seed = new("seed", "random seed (default 0)", ValueName: "S");
    public static readonly OptionSpec Device = new("device", "auto|cpu|cuda[:n] (default auto)", ValueName: "DEVICE");
    public static readonly OptionSpec Set = new("set", "method option key=value (repeatable; method.key=value when several methods run)", Repeatable: true, ValueName: "KEY=VALUE");
    public static readonly OptionSpec Out = new("out", "output file or folder, written atomically", ValueName: "PATH");
    public static readonly OptionSpec Format = new("format", "text|json", ValueName: "FORMAT");
    public static readonly OptionSpec Verbose = new("verbose", "print stack traces and details", TakesValue: false);
    public static readonly OptionSpec Help = new("help", "show this help", TakesValue: false);

    /// <summary>Composes the host from the built-ins and every <c>--plugins</c> path, printing load findings to stderr.</summary>
    public static MechanistHost CreateHost(ParsedArguments args, CommandEnvironment env)
    {
        var host = MechanistHost.Create(args.GetAll("plugins"));
        foreach (var finding in host.Catalog.LoadFindings)
            env.Error.WriteLine(finding.ToString());
        return host;
    }

    public static Device ParseDevice(ParsedArguments args)
    {
        var text = args.Get("device") ?? "auto";
        if (text == "auto") return cuda.is_available() ? CUDA : CPU;
        if (text == "cpu") return CPU;
        if (text == "cuda" || text.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new UsageException($"--device {text}: CUDA is not available in this build or on this machine (use --device cpu or auto).");
            int index = 0;
            if (text.Length > 5 && (!int.TryParse(text[5..], out index) || index < 0 || index >= cuda.device_count()))
                throw new UsageException($"--device {text}: no such CUDA device (found {cuda.device_count()}).");
            return new Device(TorchSharp.DeviceType.CUDA, index);
        }
        throw new UsageException($"--device expects auto, cpu, cuda or cuda:N, got '{text}'.");
    }

    public static int ParseSeed(ParsedArguments args) => args.GetInt("seed", 0);
}
