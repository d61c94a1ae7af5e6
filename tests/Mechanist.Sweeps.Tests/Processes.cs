using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Mechanist.Sweeps.Tests;

/// <summary>A child process whose output lines are kept (thread-safe), with bounded waits and a hard kill.</summary>
sealed class ChildProcess : IDisposable
{
    readonly Process _process;
    readonly List<string> _lines = [];

    public ChildProcess(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        _process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_lines) _lines.Add(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_lines) _lines.Add(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Runs the CLI's <c>mechanist.dll</c> from the test output folder.</summary>
    public static ChildProcess Mechanist(params string[] args) =>
        new("dotnet", [Path.Combine(AppContext.BaseDirectory, "mechanist.dll"), .. args]);

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<string> Lines { get { lock (_lines) return _lines.ToList(); } }

    public string Output => string.Join('\n', Lines);

    /// <summary>Waits (bounded) for a line matching <paramref name="match"/>; fails with the output so far.</summary>
    public string WaitForLine(Func<string, bool> match, TimeSpan limit)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < limit)
        {
            if (Lines.FirstOrDefault(match) is { } line) return line;
            if (_process.HasExited) break;
            Thread.Sleep(20);
        }
        throw new TimeoutException($"no expected line within {limit} (exited: {_process.HasExited}); output:\n{Output}");
    }

    public int WaitForExit(TimeSpan limit)
    {
        if (!_process.WaitForExit(limit)) throw new TimeoutException($"process did not exit within {limit}; output:\n{Output}");
        _process.WaitForExit(); // drain the output readers
        return _process.ExitCode;
    }

    /// <summary>SIGKILL, as a crash or an out-of-memory kill would end it.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        try { Kill(); } catch (InvalidOperationException) { }
        _process.Dispose();
    }
}

/// <summary>A real <c>redis-server</c> on a free loopback port, no persistence, stopped on dispose.</summary>
sealed class RedisServer : IDisposable
{
    readonly ChildProcess _process;

    public int Port { get; }

    public string Url => $"redis://127.0.0.1:{Port}";

    public RedisServer()
    {
        Port = SweepClusterOptions.FreePort();
        _process = new ChildProcess(RedisFactAttribute.ServerPath ?? throw new InvalidOperationException("redis-server is not installed: CI must install it (apt-get install -y redis-server)."),
            ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (watch.Elapsed < TimeSpan.FromSeconds(15) && !_process.HasExited)
            {
                Thread.Sleep(50);
            }
            catch (SocketException e)
            {
                _process.Dispose();
                throw new InvalidOperationException($"redis-server did not accept connections on port {Port}: {e.Message}\n{_process.Output}");
            }
        }
    }

    public void Dispose() => _process.Dispose();
}

/// <summary>
/// A test that needs a real <c>redis-server</c>. Where none is installed it is skipped with the reason on a
/// developer's machine (the README's test command needs only the .NET SDK), and fails in CI (<c>CI=true</c>), where
/// <c>.ci/run</c> installs it.
/// </summary>
public sealed class RedisFactAttribute : FactAttribute
{
    public static readonly string? ServerPath =
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/sbin")
        .Select(d => Path.Combine(d, "redis-server")).FirstOrDefault(File.Exists);

    public RedisFactAttribute()
    {
        if (ServerPath is null && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Skip = "redis-server is not installed (apt-get install redis-server; .ci/run installs it)";
    }
}
