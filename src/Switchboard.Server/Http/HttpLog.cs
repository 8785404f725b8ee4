using Microsoft.Extensions.Logging;

namespace Switchboard.Server.Http;

internal static partial class HttpLog
{
    [LoggerMessage(300, LogLevel.Error, "HTTP gateway: {Method} {Path} failed unexpectedly.")]
    public static partial void GatewayFailed(this ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(301, LogLevel.Debug, "HTTP gateway: SSE stream {Stream} opened (seq from {FirstSeq}).")]
    public static partial void StreamOpened(this ILogger logger, string stream, long firstSeq);

    [LoggerMessage(302, LogLevel.Debug, "HTTP gateway: SSE stream {Stream} retired ({Reason}).")]
    public static partial void StreamRetired(this ILogger logger, string stream, string reason);

    [LoggerMessage(303, LogLevel.Warning, "HTTP gateway: SSE stream {Stream}'s listener dropped {Dropped} messages (its queue of {Capacity} was full); clients are told with an sb-dropped event.")]
    public static partial void StreamDropped(this ILogger logger, string stream, long dropped, int capacity);

    [LoggerMessage(304, LogLevel.Error, "HTTP gateway: SSE stream {Stream} failed.")]
    public static partial void StreamFailed(this ILogger logger, Exception exception, string stream);
}
