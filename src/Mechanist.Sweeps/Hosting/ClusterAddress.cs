using StackExchange.Redis;

namespace Mechanist.Sweeps;

/// <summary>
/// A cluster's Redis: <c>redis://[:PASSWORD@]HOST[:PORT][/DB]</c> (<c>rediss://</c> for TLS), the port 6379 by
/// default. Silos meet through its membership table and keep sweep and job records in it.
/// </summary>
public sealed record ClusterAddress(string Host, int Port, int Database, string? Password, bool Tls)
{
    public static ClusterAddress Parse(string text, string what)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("redis" or "rediss") || string.IsNullOrEmpty(uri.Host))
            throw new MechanistInputException($"{what}: expected redis://HOST:PORT (or rediss:// for TLS), got '{text}'.");
        int db = 0;
        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0 && (!int.TryParse(path, out db) || db < 0))
            throw new MechanistInputException($"{what}: the path of '{text}' must be a database number (redis://HOST:PORT/0).");
        string? password = null;
        if (uri.UserInfo.Length > 0)
        {
            var info = Uri.UnescapeDataString(uri.UserInfo);
            password = info.Contains(':') ? info[(info.IndexOf(':') + 1)..] : info;
        }
        return new ClusterAddress(uri.Host, uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port, db, password, uri.Scheme == "rediss");
    }

    public ConfigurationOptions ToRedisOptions()
    {
        var options = new ConfigurationOptions { DefaultDatabase = Database, Password = Password, Ssl = Tls, AbortOnConnectFail = false, ConnectTimeout = 5000 };
        options.EndPoints.Add(Host, Port);
        return options;
    }

    /// <summary>For messages: the address without the password.</summary>
    public override string ToString() => $"{(Tls ? "rediss" : "redis")}://{Host}:{Port}/{Database}";
}
