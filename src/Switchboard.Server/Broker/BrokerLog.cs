using Microsoft.Extensions.Logging;

namespace Switchboard.Server;

internal static partial class BrokerLog
{
    [LoggerMessage(100, LogLevel.Information, "Connection {Connection} from {Remote}: client {Client} joined.")]
    public static partial void ClientJoined(this ILogger logger, string connection, string remote, string client);

    [LoggerMessage(101, LogLevel.Information, "Connection {Connection} ({Client}) closed: {Reason}.")]
    public static partial void ClientLeft(this ILogger logger, string connection, string client, string reason);

    [LoggerMessage(102, LogLevel.Warning, "Connection {Connection} ({Client}) broke the protocol: {Code}: {Message}")]
    public static partial void ProtocolViolation(this ILogger logger, string connection, string client, string code, string message);

    [LoggerMessage(103, LogLevel.Warning, "Connection {Connection} ({Client}) is a slow consumer: {Buffered} bytes waiting, limit {Limit} (MaxOutboundBytes); policy {Policy}.")]
    public static partial void SlowConsumer(this ILogger logger, string connection, string client, long buffered, long limit, SlowConsumerPolicy policy);

    [LoggerMessage(104, LogLevel.Warning, "Connection {Connection} ({Client}) missed its heartbeats ({Silence} ms silent); closing it.")]
    public static partial void HeartbeatMissed(this ILogger logger, string connection, string client, long silence);

    [LoggerMessage(105, LogLevel.Error, "Connection {Connection} ({Client}) failed.")]
    public static partial void ConnectionFailed(this ILogger logger, Exception exception, string connection, string client);

    [LoggerMessage(107, LogLevel.Warning, "Connection {Connection} ({Client}) was refused: its credentials did not pass ({Reason}).")]
    public static partial void CredentialsRefused(this ILogger logger, string connection, string client, string reason);

    [LoggerMessage(106, LogLevel.Information, "Broker shutting down: told {Count} connections to go elsewhere (lame duck).")]
    public static partial void LameDuck(this ILogger logger, int count);

    [LoggerMessage(120, LogLevel.Information, "Security configuration reloaded: {Summary}; {Revoked} connection(s) closed (identity removed, or holding what the new rules refuse).")]
    public static partial void SecurityReloaded(this ILogger logger, string summary, int revoked);
}
