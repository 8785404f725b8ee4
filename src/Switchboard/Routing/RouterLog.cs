using Microsoft.Extensions.Logging;

namespace Switchboard.Routing;

internal static partial class RouterLog
{
    [LoggerMessage(1, LogLevel.Warning, "A {Kind} callback for sender {Sender}, event {Event} threw; the listener keeps running.")]
    public static partial void ListenerFaulted(this ILogger logger, Exception exception, string kind, string sender, string @event);

    [LoggerMessage(2, LogLevel.Warning, "A {Kind} for sender {Sender}, event {Event} fell behind by more than its capacity of {Capacity} and was cut (OverflowPolicy.Fail).")]
    public static partial void ListenerCut(this ILogger logger, string kind, string sender, string @event, int capacity);

    [LoggerMessage(3, LogLevel.Information, "Gather {Topic}: a result from producer {Producer} came after the ttl and was dropped.")]
    public static partial void LateResult(this ILogger logger, string topic, string producer);

    [LoggerMessage(4, LogLevel.Information, "Sender {Sender} left ({Reason}).")]
    public static partial void SenderLeft(this ILogger logger, string sender, DisconnectReason reason);
}
