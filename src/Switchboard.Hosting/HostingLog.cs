using Microsoft.Extensions.Logging;

namespace Switchboard.Hosting;

/// <summary>What the hosted bus logs, with stable event ids (500–549).</summary>
internal static partial class HostingLog
{
    [LoggerMessage(500, LogLevel.Information, "Switchboard: {Kind} bus ready ({Where}).")]
    public static partial void BusStarted(this ILogger logger, string kind, string where);

    [LoggerMessage(501, LogLevel.Warning, "Switchboard: what was triggered did not all reach the broker within {Timeout} while stopping ({Reason}); the rest is dropped.")]
    public static partial void DrainIncomplete(this ILogger logger, TimeSpan timeout, string reason);

    [LoggerMessage(502, LogLevel.Information, "Switchboard: bus stopped.")]
    public static partial void BusStopped(this ILogger logger);
}
