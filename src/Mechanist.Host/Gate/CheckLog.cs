using Microsoft.Extensions.Logging;

namespace Mechanist.Host.Gate;

/// <summary>
/// The logger a check hands to every method it runs: each line goes into the report (<see cref="CheckResult.Log"/>;
/// SARIF <c>toolExecutionNotifications</c>) with the method and decomposition it came from, and to the run's progress
/// log (<c>--verbose</c>). Nothing a method says is lost.
/// </summary>
public sealed class CheckLogger(List<LogEntry> entries, string source, IProgress<string>? progress) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        var message = formatter(state, exception);
        if (exception is not null) message += $" ({exception.GetType().Name}: {Running.ExceptionMessages.Brief(exception)})";
        var level = logLevel switch
        {
            LogLevel.Warning => "warning",
            LogLevel.Error or LogLevel.Critical => "error",
            _ => "info",
        };
        lock (entries) entries.Add(new LogEntry(level, source, message));
        progress?.Report($"{source}: {message}");
    }
}
