using System.Net;

namespace Mechanist.Sweeps;

/// <summary>
/// How a process joins a sweep cluster: embedded (no <see cref="Redis"/>: one in-process silo, localhost clustering,
/// in-memory records) or through Redis (membership and records), on the given endpoints.
/// </summary>
public sealed record SweepClusterOptions
{
    public ClusterAddress? Redis { get; init; }

    public string ClusterId { get; init; } = "mechanist";

    public string ServiceId { get; init; } = "mechanist-sweeps";

    /// <summary>The address other silos and clients reach this silo at.</summary>
    public IPAddress AdvertisedAddress { get; init; } = IPAddress.Loopback;

    public int SiloPort { get; init; } = 11111;

    public int GatewayPort { get; init; } = 30000;

    /// <summary>A free TCP port on the loopback interface (for an embedded silo, which must not collide with another).</summary>
    public static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try { return ((IPEndPoint)listener.LocalEndpoint).Port; }
        finally { listener.Stop(); }
    }
}
