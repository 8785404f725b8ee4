namespace Switchboard.Bridge;

/// <summary>
/// One <see cref="BridgeFilter"/> of a direction: its listener on the origin bus, and how far its callbacks got, so
/// that the mirror of a sender that left is removed only after the lane forwarded what that sender triggered first
/// (a sender's messages reach the lane's queue before its <c>#disconnect</c> reaches the presence listener).
/// </summary>
internal sealed class BridgeLane
{
    private readonly Lock _lock = new();
    private TaskCompletionSource? _advanced;
    private long _started;
    private long _handled;

    public BridgeLane(BridgeFilter filter, int index)
    {
        Filter = filter;
        Index = index;
    }

    public BridgeFilter Filter { get; }

    /// <summary>The lane's place among its direction's lanes: a message that an earlier lane also matches is that lane's to forward.</summary>
    public int Index { get; }

    public IListener? Listener { get; set; }

    /// <summary>The count of callbacks that, once handled, cover every message the lane holds now (started or queued).</summary>
    public long Target => Volatile.Read(ref _started) + (Listener?.Pending ?? 0);

    public void Begin() => Interlocked.Increment(ref _started);

    public void End()
    {
        Interlocked.Increment(ref _handled);
        TaskCompletionSource? advanced;
        lock (_lock)
        {
            advanced = _advanced;
            _advanced = null;
        }

        advanced?.TrySetResult();
    }

    /// <summary>Waits until <paramref name="target"/> callbacks have ended.</summary>
    public async Task WaitHandledAsync(long target, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task advanced;
            lock (_lock)
            {
                if (Volatile.Read(ref _handled) >= target)
                {
                    return;
                }

                _advanced ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                advanced = _advanced.Task;
            }

            await advanced.WaitAsync(cancellationToken);
        }
    }
}
