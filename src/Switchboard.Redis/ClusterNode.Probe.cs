using StackExchange.Redis;

namespace Switchboard.Redis;

/// <summary>
/// The inbox probe: every heartbeat the node publishes a PROBE to its own inbox. A subscription can die silently (the
/// connection is up, Redis delivers nothing: centrifugo#1189 after a failover); when four heartbeats pass without a
/// probe coming back, the node reports itself unhealthy (<c>/healthz</c>, the log) and subscribes again.
/// </summary>
public sealed partial class ClusterNode
{
    private const int MissedProbesAllowed = 3;
    private long _probesSent;
    private long _probeSeen;
    private volatile bool _inboxDead;
    private Task? _resubscribeHeld;

    /// <summary>True while this node's inbox probe is not coming back (it is subscribing again meanwhile).</summary>
    public bool InboxSilent => _inboxDead;

    private string? HealthProblemNow() =>
        !_connected ? $"cluster: Redis at {Options.Redis} is unreachable; serving local clients only"
        : _inboxDead ? "cluster: this node's inbox subscription delivers nothing (probe missed); subscribing again"
        : null;

    /// <summary>Sends the next probe, after checking the earlier ones came back.</summary>
    private async Task ProbeAsync(IDatabase db)
    {
        var sent = Interlocked.Read(ref _probesSent);
        if (sent - Interlocked.Read(ref _probeSeen) > MissedProbesAllowed)
        {
            if (!_inboxDead)
            {
                _inboxDead = true;
                Log.InboxSilent(sent - Interlocked.Read(ref _probeSeen));
            }

            await ResubscribeAsync();
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>(64);
        NodeFrames.WriteBatch(buffer, Member, 0);
        NodeFrames.WriteProbe(buffer, (ulong)Interlocked.Increment(ref _probesSent));
        await db.PublishAsync(InboxOf(Member), buffer.WrittenMemory);
    }

    /// <summary>A probe came back: the inbox works.</summary>
    private void OnProbe(ulong nonce)
    {
        Interlocked.Exchange(ref _probeSeen, (long)nonce);
        if (_inboxDead)
        {
            _inboxDead = false;
            Log.InboxBack();
        }
    }

    private async Task ResubscribeAsync()
    {
        if (_resubscribeHeld is { } held)
        {
            await held.ConfigureAwait(false);
        }

        var old = _inboxQueue;
        if (old is not null)
        {
            await old.UnsubscribeAsync();
        }

        await _inboxLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _inboxQueue = await _redis!.GetSubscriber().SubscribeAsync(InboxOf(Member));
        _inboxLoop = ReadInboxAsync(_inboxQueue);
        Interlocked.Exchange(ref _probeSeen, Interlocked.Read(ref _probesSent)); // count misses afresh from here
    }

    /// <summary>For tests: ends the inbox subscription without the node knowing, as a subscription that dies silently;
    /// the node subscribes again only once <paramref name="resubscribe"/> completes, so the unhealthy state (which
    /// otherwise lasts one Redis round trip) can be observed.</summary>
    internal Task SilenceInboxAsync(Task resubscribe)
    {
        _resubscribeHeld = resubscribe;
        return _inboxQueue!.UnsubscribeAsync();
    }
}
