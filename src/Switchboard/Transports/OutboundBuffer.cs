using System.Runtime.CompilerServices;

namespace Switchboard.Transports;

/// <summary>
/// Where many threads write frames for one connection, and one loop takes them out in batches. Writers encode
/// straight into <see cref="Writer"/> while holding <see cref="Sync"/>, then call <see cref="Commit"/>; the loop's
/// <see cref="TakeAsync"/> swaps the two buffers under the lock and hands back everything written since, so one
/// socket write carries many frames and the buffers are reused (no allocation once they have grown).
/// The buffer is bounded: <see cref="IsFull"/> tells writers to apply their overflow policy before they write.
/// A thread that writes to many buffers in a burst (a broker read loop routing one received batch) can hold back the
/// wake-ups with <see cref="DeferSignals"/> and send them once per buffer with <see cref="SignalDeferred"/>: each
/// recipient's loop then wakes once per batch, on that thread, instead of once per frame on the thread pool.
/// </summary>
internal sealed class OutboundBuffer
{
    [ThreadStatic]
    private static List<OutboundBuffer>? t_deferred;
    [ThreadStatic]
    private static bool t_deferring;

    private readonly WakeSignal _signal = new();
    // Empty until first written, then grown as needed and kept: an idle connection costs next to nothing, a busy one
    // stops allocating once its buffers fit its bursts.
    private FrameBuffer _current = new();
    private FrameBuffer _taken = new();
    private FrameBuffer _control = new();
    private FrameBuffer _controlTaken = new();
    private bool _signaled;
    private int _frames;
    private bool _completed;

    public OutboundBuffer(long limitBytes)
    {
        LimitBytes = limitBytes;
    }

    /// <summary>Held while writing a frame.</summary>
    public Lock Sync { get; } = new();

    /// <summary>The bytes allowed to wait for the socket.</summary>
    public long LimitBytes { get; }

    /// <summary>Where to encode frames; only while holding <see cref="Sync"/>.</summary>
    public FrameBuffer Writer => _current;

    /// <summary>Where to encode control frames (ping, pong, errors), which go out ahead of any data backlog; only while holding <see cref="Sync"/>.</summary>
    public FrameBuffer ControlWriter => _control;

    /// <summary>Bytes waiting (read under <see cref="Sync"/> for an exact value).</summary>
    public int Buffered => _current.WrittenCount;

    /// <summary>True when no more frames should be written (call under <see cref="Sync"/>).</summary>
    public bool IsFull => _current.WrittenCount >= LimitBytes;

    /// <summary>True when data and control frames together reach twice the bound: past the room deliveries may take,
    /// answers get as much again, and no more (call under <see cref="Sync"/>).</summary>
    public bool IsPastHeadroom => (long)_current.WrittenCount + _control.WrittenCount >= 2 * LimitBytes;

    /// <summary>True once <see cref="Complete"/> was called.</summary>
    public bool IsCompleted => Volatile.Read(ref _completed);

    /// <summary>Wakes the loop after frames were written (call under <see cref="Sync"/>).</summary>
    public void Commit()
    {
        _frames++;
        if (!_signaled && (_current.WrittenCount > 0 || _control.WrittenCount > 0))
        {
            _signaled = true;
            if (t_deferring)
            {
                (t_deferred ??= []).Add(this);
            }
            else
            {
                _signal.Set(inline: false);
            }
        }
    }

    /// <summary>Until <see cref="SignalDeferred"/>, commits on this thread do not wake their loops. No await in between:
    /// the deferral belongs to the thread.</summary>
    public static void DeferSignals() => t_deferring = true;

    /// <summary>Ends <see cref="DeferSignals"/> and wakes, on this thread, each loop that got frames meanwhile (call with no lock held).</summary>
    public static void SignalDeferred()
    {
        t_deferring = false;
        if (t_deferred is not { Count: > 0 } deferred)
        {
            return;
        }

        t_deferred = null; // a woken loop running here must not see (or add to) the list being walked
        Exception? failed = null;
        foreach (var buffer in deferred)
        {
            try
            {
                // After a failure, the rest go to the thread pool: every buffer in the list must be woken, or its
                // connection would never be written to again (its _signaled stays set).
                buffer._signal.Set(inline: failed is null);
            }
            catch (Exception ex)
            {
                failed ??= ex;
            }
        }

        deferred.Clear();
        t_deferred ??= deferred;
        if (failed is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed);
        }
    }

    /// <summary>Drops every frame waiting (a connection died with them unsent); returns how many frames were dropped.</summary>
    public int Clear()
    {
        lock (Sync)
        {
            var dropped = _frames;
            _frames = 0;
            _current.ResetWrittenCount();
            _control.ResetWrittenCount();
            return dropped;
        }
    }

    /// <summary>Waits for frames and returns a batch: control frames first, then everything else written since the last call.
    /// The memory stays valid until the next call. Empty once completed and drained.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ReadOnlyMemory<byte>> TakeAsync(CancellationToken cancellationToken)
    {
        _taken.ResetWrittenCount();
        _controlTaken.ResetWrittenCount();
        while (true)
        {
            lock (Sync)
            {
                if (_control.WrittenCount > 0)
                {
                    (_control, _controlTaken) = (_controlTaken, _control);
                    return _controlTaken.WrittenMemory;
                }

                if (_current.WrittenCount > 0)
                {
                    (_current, _taken) = (_taken, _current);
                    _signaled = false;
                    _frames = 0;
                    return _taken.WrittenMemory;
                }

                if (_completed)
                {
                    return ReadOnlyMemory<byte>.Empty;
                }

                _signaled = false;
            }

            await _signal.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Ends the stream of frames: the loop drains what is left and then gets an empty batch.</summary>
    public void Complete()
    {
        lock (Sync)
        {
            _completed = true;
            _signal.Set(inline: false);
        }
    }
}
