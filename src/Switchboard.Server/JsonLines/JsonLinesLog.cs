using Microsoft.Extensions.Logging;

namespace Switchboard.Server;

internal static partial class JsonLinesLog
{
    [LoggerMessage(200, LogLevel.Information, "JSON-lines connection {Connection} from {Remote} opened.")]
    public static partial void JsonLinesJoined(this ILogger logger, string connection, string remote);

    [LoggerMessage(201, LogLevel.Information, "JSON-lines connection {Connection} ({Client}) closed: {Reason}.")]
    public static partial void JsonLinesLeft(this ILogger logger, string connection, string client, string reason);

    [LoggerMessage(202, LogLevel.Warning, "JSON-lines connection {Connection} refused the credentials of client {Client}: {Reason}")]
    public static partial void JsonLinesRefused(this ILogger logger, string connection, string client, string reason);

    [LoggerMessage(203, LogLevel.Warning, "JSON-lines connection {Connection} ({Client}) is a slow consumer: {Buffered} bytes waiting, limit {Limit} (MaxOutboundBytes); policy {Policy}.")]
    public static partial void JsonLinesSlowConsumer(this ILogger logger, string connection, string client, long buffered, long limit, SlowConsumerPolicy policy);

    [LoggerMessage(204, LogLevel.Error, "JSON-lines connection {Connection} ({Client}) failed.")]
    public static partial void JsonLinesFailed(this ILogger logger, Exception exception, string connection, string client);
}
