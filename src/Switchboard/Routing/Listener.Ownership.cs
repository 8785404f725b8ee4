using System.Runtime.CompilerServices;

namespace Switchboard.Routing;

/// <summary>
/// Biased ownership of an ordered callback listener: the thread that keeps delivering to it may run the callback
/// with plain reads and writes, no interlocked operation per message.
/// </summary>
/// <remarks>
/// <para><c>_running</c> is <see cref="Free"/>, <see cref="Claimed"/> (someone runs the callback or drains the queue),
/// <see cref="Biased"/> (reserved for <c>_biasThread</c>, which marks each run in <c>_biasBusy</c>) or
/// <see cref="Revoking"/> (another thread took the reservation away and waits for nobody: see below).</para>
/// <para>A thread that claims the listener <c>_biasAfter</c> times in a row with nothing queued keeps it reserved
/// instead of freeing it. It then writes <c>_biasBusy = 1</c> and reads <c>_running</c> with no fence between; the
/// other side of that Dekker pair is the revoker, which sets <see cref="Revoking"/> with an interlocked operation and
/// then runs <see cref="Interlocked.MemoryBarrierProcessWide"/>, a full fence on every processor (membarrier on
/// Linux, FlushProcessWriteBuffers on Windows). After it, either the owner's read sees <see cref="Revoking"/> or the
/// revoker's read sees <c>_biasBusy = 1</c>. In the first case the owner gives way; in the second the owner, on
/// leaving its callback, sees <see cref="Revoking"/> and frees the listener itself (<see cref="HandOff"/>, which
/// whoever gets there first performs once). No one ever waits for the other's callback.</para>
/// <para>A revocation costs microseconds, so each one doubles the streak needed to reserve again: listeners fed from
/// many threads (thread-pool continuations) soon stop reserving and pay the interlocked claim as before.</para>
/// </remarks>
internal sealed partial class Listener
{
    private const int Free = 0;
    private const int Claimed = 1;
    private const int Biased = 2;
    private const int Revoking = 3;
    private const int FirstBiasStreak = 8;
    private const int LastBiasStreak = 1 << 20;

    private int _biasThread;
    private int _biasBusy;
    private int _streakThread;
    private int _streak;
    private int _biasAfter = FirstBiasStreak;

    /// <summary>True while the listener is reserved for one thread (for tests and diagnostics).</summary>
    internal bool IsReserved => Volatile.Read(ref _running) == Biased;

    /// <summary>True for a listener whose callback a trigger may run on its own thread, one at a time, in order.</summary>
    internal bool IsOrderedInline => _handler is not null && _workers.Length == 0 && !_inline && !OffDeliveringThread;

    /// <summary>The callback as the application gave it, for a trigger that found nobody observing (telemetry
    /// decided once per trigger, not once per listener).</summary>
    internal MessageHandler PlainHandler => _plainHandler!;

    /// <summary>Runs the callback now when <paramref name="thread"/> holds the listener's reservation and is not inside
    /// its callback already; false when the caller must take the general path.</summary>
    internal bool TryRunReserved(in BusMessage message, int thread)
    {
        if (!TryEnterReserved(thread))
        {
            return false;
        }

        ValueTask pending;
        try
        {
            pending = _handler!(message, Token);
        }
        catch (Exception ex)
        {
            FaultReserved(ex);
            return true;
        }

        if (pending.IsCompletedSuccessfully)
        {
            LeaveReserved();
        }
        else
        {
            LeaveReserved(pending);
        }

        return true;
    }

    /// <summary>Marks a run under <paramref name="thread"/>'s reservation; the caller then runs the callback and
    /// calls <see cref="LeaveReserved()"/> (or an overload). False when not reserved for it or busy (a callback
    /// triggering its own event). Closing a listener revokes its reservation, and a message another thread queued
    /// revokes it too: neither needs a check here.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryEnterReserved(int thread)
    {
        if (Volatile.Read(ref _running) != Biased || _biasThread != thread || _biasBusy != 0)
        {
            return false;
        }

        Volatile.Write(ref _biasBusy, 1);
        if (Volatile.Read(ref _running) == Biased)
        {
            return true;
        }

        // Revoked between the two reads: the revoker may have seen this thread busy and left the hand-off to it.
        Volatile.Write(ref _biasBusy, 0);
        if (Volatile.Read(ref _running) == Revoking)
        {
            HandOff();
        }

        return false;
    }

    /// <summary>True while <paramref name="thread"/> runs the callback under its reservation (entered, not yet left).</summary>
    internal bool IsRunningReservedOn(int thread) => Volatile.Read(ref _biasBusy) != 0 && _biasThread == thread;

    /// <summary>Ends a reserved run whose callback completed successfully.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void LeaveReserved()
    {
        Volatile.Write(ref _biasBusy, 0);
        if (Volatile.Read(ref _running) != Biased)
        {
            AfterReservedRun();
        }
    }

    /// <summary>Ends a reserved run whose callback went asynchronous or failed.</summary>
    internal void LeaveReserved(ValueTask pending)
    {
        if (!pending.IsCompleted)
        {
            KeepWhileRunning(pending);
            return;
        }

        Observe(pending);
        LeaveReserved();
    }

    /// <summary>Ends a reserved run whose callback threw.</summary>
    internal void FaultReserved(Exception error)
    {
        OnFault(error);
        LeaveReserved();
    }

    /// <summary>After a reserved run that lost its reservation: frees a listener being revoked, or drains what the
    /// callback queued to itself (<see cref="RunQueuedWhileReserved"/> claimed it for that; the messages run in order
    /// on a handler thread, which frees the listener when done).</summary>
    private void AfterReservedRun()
    {
        var state = Volatile.Read(ref _running);
        if (state == Revoking)
        {
            HandOff();
        }
        else if (state == Claimed)
        {
            HandlerThreads.Run(DrainOnHandlerThread, this);
        }
    }

    /// <summary>The callback went asynchronous: the listener stays claimed until it finishes, reserved no more.</summary>
    private void KeepWhileRunning(ValueTask pending)
    {
        // While _biasBusy is 1 only the owner moves _running away from Biased or Revoking.
        if (Interlocked.CompareExchange(ref _running, Claimed, Biased) != Biased)
        {
            Interlocked.CompareExchange(ref _running, Claimed, Revoking);
        }

        Volatile.Write(ref _biasBusy, 0);
        _ = FinishThenReleaseAsync(pending);
    }

    private void GiveUpReservation()
    {
        if (Interlocked.CompareExchange(ref _running, Claimed, Biased) == Biased)
        {
            HandlerThreads.Run(DrainOnHandlerThread, this);
        }
        else
        {
            HandOff();
        }
    }

    /// <summary>A message was queued while the listener is reserved: someone must run it. Another thread revokes the
    /// reservation (the hand-off drains the queue); the owner outside its callback gives the reservation up; the owner
    /// inside it (a callback triggering its own event) claims the listener, and <see cref="LeaveReserved()"/>, seeing
    /// it claimed, drains the queue.</summary>
    private void RunQueuedWhileReserved()
    {
        if (_biasThread != Environment.CurrentManagedThreadId)
        {
            Revoke();
        }
        else if (Volatile.Read(ref _biasBusy) == 0)
        {
            GiveUpReservation();
        }
        else
        {
            // A revoker may have moved it to Revoking meanwhile: then LeaveReserved hands off, which drains.
            Interlocked.CompareExchange(ref _running, Claimed, Biased);
        }
    }

    /// <summary>Another thread delivers to a listener reserved for someone else: takes the reservation away.</summary>
    private void Revoke()
    {
        if (Interlocked.CompareExchange(ref _running, Revoking, Biased) != Biased)
        {
            return;
        }

        _biasAfter = Math.Min(_biasAfter * 2, LastBiasStreak);
        Interlocked.MemoryBarrierProcessWide();
        if (Volatile.Read(ref _biasBusy) == 0)
        {
            HandOff();
        }
    }

    /// <summary>Ends a revocation, once, by whichever of the owner and the revoker gets here first.</summary>
    private void HandOff()
    {
        if (Interlocked.CompareExchange(ref _running, Free, Revoking) == Revoking)
        {
            DrainIfQueued();
        }
    }

    /// <summary>Frees a claimed listener after a callback that completed on <paramref name="thread"/>, or keeps it
    /// reserved for that thread once it has claimed it often enough in a row.</summary>
    private void ReleaseAfterInlineRun(int thread)
    {
        if (_streakThread == thread)
        {
            _streak++;
        }
        else
        {
            _streakThread = thread;
            _streak = 1;
        }

        if (_streak < _biasAfter || IsClosed)
        {
            Release();
            return;
        }

        _streak = 0;
        _biasThread = thread;
        Interlocked.Exchange(ref _running, Biased);
        if (Volatile.Read(ref _pending) > 0)
        {
            GiveUpReservation();
        }
    }
}
