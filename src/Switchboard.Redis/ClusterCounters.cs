namespace Switchboard.Redis;

/// <summary>What one node counted since it started (a snapshot on each read). Also published as the meter
/// <c>Switchboard.Cluster</c> (<see cref="ClusterNode.MeterName"/>).</summary>
public sealed class ClusterCounters
{
    private long _lost;
    private long _published;
    private long _batches;
    private long _received;
    private long _unknown;
    private long _gaps;
    private long _nodesLost;
    private long _clashes;
    private long _outages;

    /// <summary>Bus messages bound for another node that did not reach Redis: published while Redis was unreachable,
    /// refused by it, over <see cref="ClusterOptions.MaxPendingBytes"/>, or published to an inbox nobody listened to.</summary>
    public long LostMessages => Interlocked.Read(ref _lost);

    /// <summary>Bus messages published to other nodes.</summary>
    public long MessagesOut => Interlocked.Read(ref _published);

    /// <summary>Redis PUBLISHes to other nodes' inboxes (many messages each under load).</summary>
    public long BatchesOut => Interlocked.Read(ref _batches);

    /// <summary>Bus messages received from other nodes and delivered here.</summary>
    public long MessagesIn => Interlocked.Read(ref _received);

    /// <summary>Messages received for a sender this node has no mirror of (it left meanwhile), dropped.</summary>
    public long UnknownSenders => Interlocked.Read(ref _unknown);

    /// <summary>Gaps seen in another node's batch sequence (batches lost in Redis); each one makes this node ask for
    /// that node's state again.</summary>
    public long SequenceGaps => Interlocked.Read(ref _gaps);

    /// <summary>Nodes found dead (their lease expired).</summary>
    public long NodesLost => Interlocked.Read(ref _nodesLost);

    /// <summary>Local senders whose name another node held when this node claimed it again after an outage.</summary>
    public long NameClashes => Interlocked.Read(ref _clashes);

    /// <summary>Times the connection to Redis was lost.</summary>
    public long RedisOutages => Interlocked.Read(ref _outages);

    internal void AddLost(int count)
    {
        if (count > 0)
        {
            Interlocked.Add(ref _lost, count);
        }
    }

    internal void AddPublished(int events, bool nobodyListened)
    {
        Interlocked.Increment(ref _batches);
        if (nobodyListened)
        {
            AddLost(events);
        }
        else
        {
            Interlocked.Add(ref _published, events);
        }
    }

    internal void AddReceived() => Interlocked.Increment(ref _received);

    internal void AddUnknown() => Interlocked.Increment(ref _unknown);

    internal void AddGap() => Interlocked.Increment(ref _gaps);

    internal void AddNodeLost() => Interlocked.Increment(ref _nodesLost);

    internal void AddClash() => Interlocked.Increment(ref _clashes);

    internal void AddOutage() => Interlocked.Increment(ref _outages);
}
