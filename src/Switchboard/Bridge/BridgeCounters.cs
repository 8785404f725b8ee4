namespace Switchboard;

/// <summary>What one direction of a <see cref="BusBridge"/> forwarded, dropped and refused. Nothing is lost silently.</summary>
public sealed class BridgeCounters
{
    private readonly Func<long> _listenerDrops;
    private long _forwarded;
    private long _undelivered;
    private long _skipped;
    private long _clashes;
    private long _requests;
    private long _requestsFailed;
    private long _gathers;
    private long _errors;

    internal BridgeCounters(Func<long> listenerDrops) => _listenerDrops = listenerDrops;

    /// <summary>Messages triggered on the far side by a mirror sender.</summary>
    public long Forwarded => Volatile.Read(ref _forwarded);

    /// <summary>Messages not forwarded: dropped by the bridge's listeners' overflow policy (as any listener's drops),
    /// or with no mirror to trigger them (its name clashed, or its sender was already gone), or refused by the far bus.</summary>
    public long Dropped => _listenerDrops() + Volatile.Read(ref _undelivered);

    /// <summary>Messages seen and deliberately not forwarded because they came from this bridge (its own mirror
    /// senders, or its name in <see cref="BridgeHeaders.Via"/>) or crossed <see cref="BridgeOptions.MaxHops"/> bridges:
    /// the loops that were stopped.</summary>
    public long Skipped => Volatile.Read(ref _skipped);

    /// <summary>Mirror senders the far bus refused because the name was taken there (never a silent takeover).</summary>
    public long Clashes => Volatile.Read(ref _clashes);

    /// <summary>Requests forwarded to their origin sender.</summary>
    public long RequestsForwarded => Volatile.Read(ref _requests);

    /// <summary>Forwarded requests that failed (their error went back to the asker).</summary>
    public long RequestsFailed => Volatile.Read(ref _requestsFailed);

    /// <summary>Gathers forwarded to the origin bus.</summary>
    public long GathersForwarded => Volatile.Read(ref _gathers);

    /// <summary>Other failures (a mirror that could not be registered, a presence query that failed), each also raised
    /// on <see cref="BusBridge.Error"/>.</summary>
    public long Errors => Volatile.Read(ref _errors);

    internal void AddForwarded() => Interlocked.Increment(ref _forwarded);

    internal void AddUndelivered() => Interlocked.Increment(ref _undelivered);

    internal void AddSkipped() => Interlocked.Increment(ref _skipped);

    internal void AddClash() => Interlocked.Increment(ref _clashes);

    internal void AddRequest() => Interlocked.Increment(ref _requests);

    internal void AddRequestFailed() => Interlocked.Increment(ref _requestsFailed);

    internal void AddGather() => Interlocked.Increment(ref _gathers);

    internal void AddError() => Interlocked.Increment(ref _errors);
}
