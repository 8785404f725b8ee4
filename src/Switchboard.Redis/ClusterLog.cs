using Microsoft.Extensions.Logging;

namespace Switchboard.Redis;

internal static partial class ClusterLog
{
    [LoggerMessage(300, LogLevel.Information, "Cluster '{Cluster}': node {Member} joined through Redis {Redis}.")]
    public static partial void Joined(this ILogger logger, string cluster, string member, string redis);

    [LoggerMessage(301, LogLevel.Information, "Cluster: node {Member} is known now.")]
    public static partial void NodeFound(this ILogger logger, string member);

    [LoggerMessage(302, LogLevel.Warning, "Cluster: node {Member} is lost (its lease expired); its {Senders} senders are disconnected with reason node_lost.")]
    public static partial void NodeLost(this ILogger logger, string member, int senders);

    [LoggerMessage(303, LogLevel.Information, "Cluster: node {Member} left cleanly.")]
    public static partial void NodeLeft(this ILogger logger, string member);

    [LoggerMessage(304, LogLevel.Error, "Cluster: Redis is unreachable ({Failure}); local traffic goes on, messages to other nodes are lost and counted until it is back.")]
    public static partial void RedisLost(this ILogger logger, string failure);

    [LoggerMessage(305, LogLevel.Warning, "Cluster: Redis is back; this node announces its lease, names, senders and interest again.")]
    public static partial void RedisBack(this ILogger logger);

    [LoggerMessage(306, LogLevel.Error, "Cluster: the outbox to node {Member} failed.")]
    public static partial void LinkFailed(this ILogger logger, Exception exception, string member);

    [LoggerMessage(307, LogLevel.Error, "Cluster: a frame from node {Member} could not be handled.")]
    public static partial void InboundFailed(this ILogger logger, Exception exception, string member);

    [LoggerMessage(308, LogLevel.Warning, "Cluster: sender '{Sender}' kept running here although node {Owner} claimed its name while Redis was away; the name is held by both until one leaves.")]
    public static partial void NameClash(this ILogger logger, string sender, string owner);

    [LoggerMessage(309, LogLevel.Warning, "Cluster: node {Member}'s sender '{Sender}' could not be mirrored here: {Reason}")]
    public static partial void MirrorRefused(this ILogger logger, string member, string sender, string reason);

    [LoggerMessage(311, LogLevel.Error, "Cluster: this node's inbox subscription delivers nothing ({Missed} probes did not come back); reporting unhealthy and subscribing again.")]
    public static partial void InboxSilent(this ILogger logger, long missed);

    [LoggerMessage(312, LogLevel.Warning, "Cluster: this node's inbox delivers again.")]
    public static partial void InboxBack(this ILogger logger);

    [LoggerMessage(310, LogLevel.Warning, "Cluster: the heartbeat failed ({Failure}).")]
    public static partial void HeartbeatFailed(this ILogger logger, string failure);
}
