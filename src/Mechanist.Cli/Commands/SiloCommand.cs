using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Mechanist.Cli.CommandLine;
using Mechanist.Sweeps;
using Microsoft.Extensions.Logging;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist silo --cluster redis://HOST:PORT</c>: a worker of a sweep cluster. Joins the cluster through Redis,
/// runs jobs of every open sweep while it has free slots, and stays until SIGINT or SIGTERM. Its jobs go back to the
/// cluster when it dies.
/// </summary>
public sealed class SiloCommand : ICommand
{
    public string Name => "silo";
    public string Summary => "a worker process of a sweep cluster (Redis membership and records); runs jobs until stopped";
    public string Usage => "--cluster redis://HOST:PORT [--cluster-id ID] [--host ADDRESS] [--port P] [--gateway-port P] [--jobs N] [--threads-per-job T]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("cluster", "the cluster's Redis", ValueName: "redis://HOST:PORT"),
        new("cluster-id", "the cluster's ID (default mechanist); silos and sweeps with the same ID work together", ValueName: "ID"),
        new("host", "the address other silos and clients reach this one at (default: loopback when Redis is on loopback, else this machine's first IPv4 address)", ValueName: "ADDRESS"),
        new("port", "silo-to-silo port (default 11111; 0 picks a free one)", ValueName: "P"),
        new("gateway-port", "port clients (the sweep command) connect to (default 30000; 0 picks a free one)", ValueName: "P"),
        new("jobs", "jobs at once (default: cores / threads per job)", ValueName: "N"),
        new("threads-per-job", "libtorch threads per job (default 1, or cores / jobs)", ValueName: "T"),
        CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var redis = ClusterAddress.Parse(args.Require("cluster"), "--cluster");
        int? jobs = args.Has("jobs") ? args.GetInt("jobs", 1) : null;
        int? threads = args.Has("threads-per-job") ? args.GetInt("threads-per-job", 1) : null;
        if (jobs is < 1) throw new UsageException($"option '--jobs' must be at least 1, got {jobs}.");
        if (threads is < 1) throw new UsageException($"option '--threads-per-job' must be at least 1, got {threads}.");
        int port = Port(args, "port", 11111);
        int gatewayPort = Port(args, "gateway-port", 30000);
        var address = args.Get("host") is { } h
            ? IPAddress.TryParse(h, out var ip) ? ip : throw new UsageException($"option '--host' expects an IP address, got '{h}'.")
            : DefaultAddress(redis);
        var (slots, threadsPerJob) = SweepWorkerOptions.ForCores(Environment.ProcessorCount, jobs, threads);
        var cluster = new SweepClusterOptions
        {
            Redis = redis, ClusterId = args.Get("cluster-id") ?? "mechanist", AdvertisedAddress = address, SiloPort = port, GatewayPort = gatewayPort,
        };

        using var stop = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        SweepRuntime.RunSilo(cluster, new SweepWorkerOptions { Slots = slots, ThreadsPerJob = threadsPerJob },
            silo =>
            {
                env.Out.WriteLine($"silo {silo} joined cluster '{cluster.ClusterId}' at {redis}: {slots} job slot(s) x {threadsPerJob} thread(s); gateway port {gatewayPort}");
                env.Out.Flush();
            },
            env.Verbose ? LogLevel.Information : LogLevel.Warning, stop.Token).GetAwaiter().GetResult();
        env.Out.WriteLine("silo stopped");
        return ExitCodes.Ok;
    }

    static int Port(CommandLine.ParsedArguments args, string name, int fallback)
    {
        int port = args.GetInt(name, fallback);
        if (port is < 0 or > 65535) throw new UsageException($"option '--{name}' must be a TCP port (0 for a free one), got {port}.");
        return port == 0 ? SweepClusterOptions.FreePort() : port;
    }

    static IPAddress DefaultAddress(ClusterAddress redis)
    {
        if (redis.Host is "localhost" || (IPAddress.TryParse(redis.Host, out var r) && IPAddress.IsLoopback(r))) return IPAddress.Loopback;
        return NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? IPAddress.Loopback;
    }
}
