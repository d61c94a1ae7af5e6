using Mechanist.Cli.CommandLine;
using Mechanist.Host;
using Mechanist.Host.Running;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>Options shared by commands, spelt the same everywhere (design reference §11).</summary>
public static class CommonOptions
{
    public static readonly OptionSpec Plugins = new("plugins", "a plugin folder or .dll (repeatable)", Repeatable: true, ValueName: "DIR");
    public static readonly OptionSpec Seed = new("seed", "random seed (default 0)", ValueName: "S");
    public static readonly OptionSpec Device = new("device", "auto|cpu|cuda[:n] (default auto)", ValueName: "DEVICE", Choices: ["auto", "cpu", "cuda"]);
    public static readonly OptionSpec Set = new("set", "method option key=value (repeatable; method.key=value when several methods run)", Repeatable: true, ValueName: "KEY=VALUE");
    public static readonly OptionSpec Out = new("out", "output file or folder, written atomically", ValueName: "PATH");
    public static readonly OptionSpec Format = new("format", "text|json", ValueName: "FORMAT", Choices: ["text", "json"]);
    public static readonly OptionSpec Tokens = new("tokens", $"token ids: {TokenArgument.Forms}", ValueName: "IDS|FILE");
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

    /// <summary>--device through the host's one device reader (<see cref="Devices"/>).</summary>
    public static Device ParseDevice(ParsedArguments args)
    {
        var text = args.Get("device") ?? "auto";
        if (!Devices.IsValid(text)) throw new UsageException($"--device expects {Devices.Expected}, got '{text}'.");
        try
        {
            return Devices.Resolve(text);
        }
        catch (MechanistInputException e)
        {
            throw new UsageException($"--device {e.Message}");
        }
    }

    public static int ParseSeed(ParsedArguments args) => args.GetInt("seed", 0);
}
