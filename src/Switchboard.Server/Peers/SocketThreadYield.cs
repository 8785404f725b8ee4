using System.Collections.Concurrent;
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
        private readonly ConcurrentQueue<Action> _waiting = new();
        private readonly Socket _sender;
        private readonly Socket _receiver;
        private readonly byte[] _signal = [1];
        private int _signalled;

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
            if (Interlocked.Exchange(ref _signalled, 1) == 0)
            {
                try
                {
                    _sender.Send(_signal);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    // The pair is gone: nobody may stay queued.
                    ThreadPool.UnsafeQueueUserWorkItem(static w => w.Drain(), this, preferLocal: false);
                }
            }
        }

        private async Task RunAsync()
        {
            var buffer = new byte[64];
            try
            {
                while (await _receiver.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false) > 0)
                {
                    Volatile.Write(ref _signalled, 0); // before draining: a loop queued from now on sends again
                    Drain();
                }
            }
            catch (SocketException)
            {
            }

            Drain();
        }

        /// <summary>Runs the loops queued before this round; a loop that yields again meanwhile waits for the next round,
        /// behind the connections that became ready in between.</summary>
        private void Drain()
        {
            for (var queued = _waiting.Count; queued > 0 && _waiting.TryDequeue(out var continuation); queued--)
            {
                continuation();
            }
        }
    }
}
