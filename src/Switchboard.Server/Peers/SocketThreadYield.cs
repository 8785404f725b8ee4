using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Switchboard.Server;

/// <summary>
/// Gives a read loop's socket thread back and resumes the loop on a socket thread once that thread has served the
/// connections that were ready meanwhile. A waiting loop is queued and one byte is sent over a loopback connection of
/// this process; its receive completes like any other connection's, in the order the socket engine sees them, and runs
/// the queued loops. <see cref="Task.Yield"/> would resume the loop on a thread-pool thread instead: on a busy machine
/// that thread waits for a CPU (about a scheduler slice) while the socket thread, whose work it took, has none left.
/// With inline socket completions off the receive completes on the thread pool, and this is a plain yield.
/// </summary>
internal static class SocketThreadYield
{
    private static readonly Lazy<Wakeup?> Shared = new(Wakeup.TryCreate);

    /// <summary>An awaitable that resumes the caller after the socket thread's next round, or in the thread pool.</summary>
    /// <param name="toThreadPool">Resume in the thread pool: for a loop whose work is too heavy to share the socket thread
    /// (there the operating system shares the CPUs among threads, and the socket thread stays free).</param>
    public static Awaitable Yield(bool toThreadPool = false) => new(toThreadPool);

    /// <summary>Awaited by <see cref="Yield"/>.</summary>
    public readonly struct Awaitable(bool toThreadPool) : ICriticalNotifyCompletion
    {
        /// <summary>Always false: awaiting always gives the thread back.</summary>
        public bool IsCompleted => false;

        public Awaitable GetAwaiter() => this;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) => Schedule(continuation);

        public void UnsafeOnCompleted(Action continuation) => Schedule(continuation);

        private void Schedule(Action continuation)
        {
            if (!toThreadPool && Shared.Value is { } wakeup)
            {
                wakeup.Enqueue(continuation);
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(static c => c(), continuation, preferLocal: false);
            }
        }
    }

    private sealed class Wakeup
    {
        /// <summary>The longest one round runs queued loops before the event loop serves the ready connections again.</summary>
        private static readonly long RoundTicks = Stopwatch.Frequency / 500; // 2 ms, a read loop's fair share

        private readonly ConcurrentQueue<Action> _waiting = new();
        private readonly Socket _sender;
        private readonly Socket _receiver;
        private readonly byte[] _signal = [1];
        private int _signalled;
        private int _draining;

        private Wakeup(Socket sender, Socket receiver)
        {
            _sender = sender;
            _receiver = receiver;
            _ = Task.Run(RunAsync);
        }

        /// <summary>A loopback pair, or null where loopback is not available (then yields go to the thread pool).</summary>
        public static Wakeup? TryCreate()
        {
            try
            {
                using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                listener.Listen(1);
                var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                sender.Connect(listener.LocalEndPoint!);
                return new Wakeup(sender, listener.Accept());
            }
            catch (SocketException)
            {
                return null;
            }
        }

        public void Enqueue(Action continuation)
        {
            _waiting.Enqueue(continuation);
            // While a round runs, its end signals for what was queued meanwhile (RunAsync): a byte sent now would make
            // the next receive complete at once, on this thread, and the round would start again without the event loop
            // serving the connections that became ready.
            if (Volatile.Read(ref _draining) == 0 && Interlocked.Exchange(ref _signalled, 1) == 0)
            {
                Signal();
            }
        }

        private void Signal()
        {
            try
            {
                _sender.Send(_signal);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // The pair is gone: nobody may stay queued.
                ThreadPool.UnsafeQueueUserWorkItem(static w => w.Drain(all: true), this, preferLocal: false);
            }
        }

        private async Task RunAsync()
        {
            var buffer = new byte[64];
            try
            {
                while (true)
                {
                    // The receive is pending before the round's loops are signalled, so their wake-up goes through the
                    // event loop, behind every connection that is ready by then.
                    var received = _receiver.ReceiveAsync(buffer, SocketFlags.None);
                    Interlocked.Exchange(ref _draining, 0);
                    if (!_waiting.IsEmpty && Interlocked.Exchange(ref _signalled, 1) == 0)
                    {
                        Signal();
                    }

                    if (await received.ConfigureAwait(false) == 0)
                    {
                        break;
                    }

                    Interlocked.Exchange(ref _draining, 1);
                    Volatile.Write(ref _signalled, 0); // before draining: what is queued from now on is signalled again
                    Drain();
                }
            }
            catch (SocketException)
            {
            }

            Interlocked.Exchange(ref _draining, 0);
            Drain(all: true);
        }

        /// <summary>Runs the loops queued before this round, for at most <see cref="RoundTicks"/>: a loop that yields again
        /// meanwhile, and whatever the budget left queued (thousands of connections ending at once), waits for the next
        /// round, behind the connections that became ready in between. With <paramref name="all"/> (the pair is gone),
        /// runs everything.</summary>
        private void Drain(bool all = false)
        {
            var until = Stopwatch.GetTimestamp() + RoundTicks;
            for (var queued = _waiting.Count; queued > 0 && _waiting.TryDequeue(out var continuation); queued--)
            {
                continuation();
                if (!all && Stopwatch.GetTimestamp() >= until)
                {
                    return;
                }
            }
        }
    }
}
