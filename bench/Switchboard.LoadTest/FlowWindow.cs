using System.Diagnostics;

namespace Switchboard.LoadTest;

/// <summary>
/// The end-to-end window: the publisher may have at most <see cref="Window"/> messages sent but not yet received by
/// its slowest subscriber; when full it waits until half the window drained. So neither broker is pushed into its
/// slow-consumer policy, and throughput is what a broker delivers, not what it buffers.
/// </summary>
internal sealed class FlowWindow
{
    private const int Stride = 16; // one counter per cache line pair: no false sharing between receive threads
    private readonly long[] _received;
    private readonly ManualResetEventSlim _room = new(false);
    private readonly int _subscribers;
    private long _sent;
    private long _resumeAt = long.MaxValue;

    public FlowWindow(int subscribers, int window)
    {
        _subscribers = subscribers;
        _received = new long[subscribers * Stride];
        Window = window;
    }

    public int Window { get; }

    public long Sent => Volatile.Read(ref _sent);

    public long MinReceived()
    {
        var min = long.MaxValue;
        for (var i = 0; i < _subscribers; i++)
        {
            min = Math.Min(min, Volatile.Read(ref _received[i * Stride]));
        }

        return min;
    }

    public long TotalReceived()
    {
        long total = 0;
        for (var i = 0; i < _subscribers; i++)
        {
            total += Volatile.Read(ref _received[i * Stride]);
        }

        return total;
    }

    /// <summary>Called by the one publisher thread before it sends.</summary>
    public void AddSent(int count) => Volatile.Write(ref _sent, _sent + count);

    /// <summary>Called by subscriber <paramref name="index"/>'s receive thread after each parsed chunk.</summary>
    public void AddReceived(int index, long count)
    {
        var total = Interlocked.Add(ref _received[index * Stride], count);
        if (total >= Volatile.Read(ref _resumeAt) && MinReceived() >= Volatile.Read(ref _resumeAt))
        {
            _room.Set();
        }
    }

    /// <summary>How many more messages the publisher may send now; waits while the window is full; 0 once <paramref name="deadline"/> passed.</summary>
    public long WaitForRoom(long deadline)
    {
        while (true)
        {
            var inFlight = _sent - MinReceived();
            if (inFlight < Window)
            {
                return Window - inFlight;
            }

            if (Stopwatch.GetTimestamp() >= deadline)
            {
                return 0;
            }

            _room.Reset();
            var resumeAt = _sent - (Window / 2);
            Interlocked.Exchange(ref _resumeAt, resumeAt);
            if (MinReceived() < resumeAt)
            {
                _room.Wait(20); // bounded: a missed wake-up costs at most 20 ms, and the deadline is checked again
            }

            Interlocked.Exchange(ref _resumeAt, long.MaxValue);
        }
    }

    /// <summary>Waits until every subscriber received everything sent, or <paramref name="timeout"/>.</summary>
    public void Drain(TimeSpan timeout)
    {
        var until = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (MinReceived() < Sent && Stopwatch.GetTimestamp() < until)
        {
            Thread.Sleep(5);
        }
    }
}
