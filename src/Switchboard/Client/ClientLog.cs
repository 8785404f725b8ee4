using Microsoft.Extensions.Logging;

namespace Switchboard.Client;

/// <summary>What a <see cref="BusClient"/> logs, with stable event ids (400–499).</summary>
internal static partial class ClientLog
{
    [LoggerMessage(400, LogLevel.Warning, "{Message}. Retrying in the background (RetryInitialConnect); work is buffered until then.")]
    public static partial void RetryingInitialConnect(this ILogger logger, string message);

    [LoggerMessage(401, LogLevel.Warning, "Broker {Address} broke the protocol: {Message}")]
    public static partial void BrokerBrokeProtocol(this ILogger logger, BusAddress address, string message);

    [LoggerMessage(402, LogLevel.Warning, "Dropped a corrupt frame from {Address}: {Message}")]
    public static partial void CorruptFrameDropped(this ILogger logger, BusAddress address, string message);

    [LoggerMessage(403, LogLevel.Warning, "Broker {Address} missed its heartbeats; reconnecting.")]
    public static partial void BrokerHeartbeatMissed(this ILogger logger, BusAddress address);

    [LoggerMessage(404, LogLevel.Warning, "After reconnecting, the broker refused a registration again: {Message}")]
    public static partial void RegistrationRefusedAgain(this ILogger logger, string message);

    [LoggerMessage(405, LogLevel.Warning, "The broker reported {Code}: {Message}")]
    public static partial void BrokerReported(this ILogger logger, string code, string message);

    [LoggerMessage(406, LogLevel.Information, "Broker {Address} is going away ({Reason}); moving to another broker.")]
    public static partial void BrokerGoingAway(this ILogger logger, BusAddress address, string? reason);

    [LoggerMessage(407, LogLevel.Warning, "The broker {Address} did not confirm every registration within {Timeout}; reporting the connection anyway.")]
    public static partial void RegistrationsUnconfirmed(this ILogger logger, BusAddress address, TimeSpan timeout);

    [LoggerMessage(408, LogLevel.Warning, "Lost the connection to {Address}: {Reason}. {Dropped} frames waiting for it were dropped.")]
    public static partial void ConnectionLost(this ILogger logger, BusAddress address, string reason, int dropped);

    [LoggerMessage(409, LogLevel.Error, "The broker refused this client's credentials three times ({Message}); giving up reconnecting.")]
    public static partial void GivingUpOnCredentials(this ILogger logger, string message);

    [LoggerMessage(410, LogLevel.Debug, "Reconnecting to {Address} failed: {Message}")]
    public static partial void ReconnectFailed(this ILogger logger, BusAddress address, string message);

    [LoggerMessage(411, LogLevel.Error, "A background task of the client failed: {Task}.")]
    public static partial void BackgroundFailed(this ILogger logger, Exception exception, string task);
}
