namespace Switchboard;

/// <summary>What a bus had to drop or could not do, counted so that no loss is silent.</summary>
public sealed class BusCounters
{
    private long _listenerDrops;
    private long _lateResults;
    private long _handlerFaults;
    private long _offlineDrops;
    private long _corruptFrames;

    /// <summary>Messages dropped because a listener's queue was full (DropOldest, DropNewest) or the listener was cut (Fail).</summary>
    public long ListenerDrops => Volatile.Read(ref _listenerDrops);

    /// <summary>Gather results that arrived after their gather's ttl.</summary>
    public long LateResults => Volatile.Read(ref _lateResults);

    /// <summary>Listener callbacks that threw.</summary>
    public long HandlerFaults => Volatile.Read(ref _handlerFaults);

    /// <summary>Messages dropped because a client's offline buffer was full while it was disconnected.</summary>
    public long OfflineDrops => Volatile.Read(ref _offlineDrops);

    /// <summary>Frames that failed their CRC-32C on a lossy carrier (a serial line) and were dropped.</summary>
    public long CorruptFrames => Volatile.Read(ref _corruptFrames);

    internal void AddCorruptFrame() => Interlocked.Increment(ref _corruptFrames);

    internal void AddListenerDrop() => Interlocked.Increment(ref _listenerDrops);

    internal void AddLateResult() => Interlocked.Increment(ref _lateResults);

    internal void AddHandlerFault() => Interlocked.Increment(ref _handlerFaults);

    internal void AddOfflineDrop() => Interlocked.Increment(ref _offlineDrops);
}
