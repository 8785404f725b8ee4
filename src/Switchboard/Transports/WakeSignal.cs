using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace Switchboard.Transports;

/// <summary>
/// Wakes one waiting loop (a connection's write loop). Unlike a semaphore, whoever sets it chooses how the loop
/// resumes: on the thread pool (the safe default, for callers holding locks or running user code), or inline on the
/// caller's thread, so a broker read loop that has just routed a batch runs each recipient's socket write itself
/// instead of handing it to another thread (a futex wake and a context switch per batch saved).
/// Sets while nobody waits are remembered once; one consumer only. Allocates nothing per wait.
/// </summary>
internal sealed class WakeSignal : IValueTaskSource
{
    private const int Idle = 0;
    private const int Pending = 1;
    private const int Waiting = 2;

    private ManualResetValueTaskSourceCore<bool> _core;
    private int _state;

    /// <summary>Completes when <see cref="Set"/> is called (at once if it was called since the last wait).</summary>
    public ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Pending) == Pending)
        {
            return ValueTask.CompletedTask;
        }

        cancellationToken.ThrowIfCancellationRequested();
        _core.Reset();
        if (Interlocked.CompareExchange(ref _state, Waiting, Idle) == Pending)
        {
            Volatile.Write(ref _state, Idle); // set between the two checks
            return ValueTask.CompletedTask;
        }

        return cancellationToken.CanBeCanceled ? WaitCancellableAsync(cancellationToken) : new ValueTask(this, _core.Version);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WaitCancellableAsync(CancellationToken cancellationToken)
    {
        await using var registration = cancellationToken.UnsafeRegister(static state => ((WakeSignal)state!).Release(inline: false, canceled: true), this);
        await new ValueTask(this, _core.Version);
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Wakes the waiter, or makes its next wait return at once.</summary>
    /// <param name="inline">Run the waiter's continuation on this thread, now. Only where nothing is locked and the
    /// thread may do the waiter's work (a read loop between batches).</param>
    public void Set(bool inline) => Release(inline, canceled: false);

    private void Release(bool inline, bool canceled)
    {
        while (true)
        {
            switch (Volatile.Read(ref _state))
            {
                case Pending:
                    return;
                case Idle:
                    if (Interlocked.CompareExchange(ref _state, Pending, Idle) == Idle)
                    {
                        return;
                    }

                    break;
                default:
                    if (Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
                    {
                        _core.RunContinuationsAsynchronously = !inline;
                        _core.SetResult(!canceled);
                        return;
                    }

                    break;
            }
        }
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
