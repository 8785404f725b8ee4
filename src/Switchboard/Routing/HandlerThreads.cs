namespace Switchboard.Routing;

/// <summary>
/// The threads that run application code a bus does not run inline: request handlers, producers and queued listener
/// callbacks. An elastic pool of dedicated threads shared by every bus in the process: a work item goes to an idle
/// thread, or a new thread starts for it, so it never waits for another item to finish (until <see cref="MaxThreads"/>
/// run at once; beyond that items wait in order). A handler that blocks (<c>Thread.Sleep</c>, a synchronous API)
/// therefore delays neither a socket read loop, nor other handlers, nor the .NET thread pool, which grows far too
/// slowly for blocking work once its minimum threads are busy. A thread idle for <see cref="IdleTimeout"/> exits, so an
/// idle process holds none.
/// </summary>
internal static class HandlerThreads
{
    /// <summary>The most threads at once; later items wait for one to be free.</summary>
    public static readonly int MaxThreads = Math.Max(256, Environment.ProcessorCount * 64);

    /// <summary>How long a thread waits for work before it exits.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(20);

    private static readonly Lock Sync = new();
    private static readonly List<Worker> Idle = [];
    private static readonly Queue<WorkItem> Backlog = new();
    private static int _threads;

    /// <summary>Threads alive now (for tests and metrics).</summary>
    public static int ThreadCount => Volatile.Read(ref _threads);

    /// <summary>Runs <paramref name="work"/>(<paramref name="state"/>) on a handler thread. <paramref name="work"/> must
    /// not throw (an exception is swallowed to keep the thread alive, so catch and report inside).</summary>
    public static void Run(Action<object?> work, object? state)
    {
        var item = new WorkItem(work, state);
        lock (Sync)
        {
            if (Idle.Count > 0)
            {
                var worker = Idle[^1];
                Idle.RemoveAt(Idle.Count - 1);
                worker.Assign(item);
                return;
            }

            if (_threads >= MaxThreads)
            {
                Backlog.Enqueue(item);
                return;
            }

            _threads++;
        }

        new Worker().Start(item);
    }

    /// <summary>Runs an asynchronous handler on a handler thread and completes with its result.</summary>
    public static Task<T> RunAsync<T>(Func<ValueTask<T>> work)
    {
        var invocation = new Invocation<T>(work);
        Run(static state => ((Invocation<T>)state!).Execute(), invocation);
        return invocation.Task;
    }

    /// <summary>A request handler that runs on a handler thread instead of its caller's.</summary>
    public static RequestHandler Offload(RequestHandler handler) =>
        (request, cancellationToken) => new ValueTask<Payload>(RunAsync(() => handler(request, cancellationToken)));

    /// <summary>A producer that runs on a handler thread instead of its caller's.</summary>
    public static ProducerHandler Offload(ProducerHandler handler) =>
        (request, cancellationToken) => new ValueTask<Payload>(RunAsync(() => handler(request, cancellationToken)));

    private readonly record struct WorkItem(Action<object?> Work, object? State);

    private sealed class Invocation<T> : TaskCompletionSource<T>
    {
        private readonly Func<ValueTask<T>> _work;

        // Continuations run on the handler thread that completed the work: one thread hop fewer per request. Whatever
        // runs there (the router's bookkeeping, the asker's code after its await) is on a dedicated thread, so even a
        // continuation that blocks delays nothing else.
        public Invocation(Func<ValueTask<T>> work) => _work = work;

        public void Execute()
        {
            ValueTask<T> pending;
            try
            {
                pending = _work();
            }
            catch (Exception ex)
            {
                TrySetException(ex);
                return;
            }

            if (pending.IsCompletedSuccessfully)
            {
                TrySetResult(pending.Result);
            }
            else
            {
                _ = CompleteLaterAsync(pending);
            }
        }

        private async Task CompleteLaterAsync(ValueTask<T> pending)
        {
            try
            {
                TrySetResult(await pending);
            }
            catch (OperationCanceledException ex)
            {
                TrySetCanceled(ex.CancellationToken);
            }
            catch (Exception ex)
            {
                TrySetException(ex);
            }
        }
    }

    private sealed class Worker
    {
        private readonly ManualResetEventSlim _signal = new(false, spinCount: 0);
        private WorkItem _assigned;
        private bool _hasWork;

        public void Start(WorkItem first)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = "Switchboard handler" };
            // UnsafeStart: the thread must not carry the execution context (AsyncLocals) of whoever happened to start it.
            thread.UnsafeStart(first);
        }

        /// <summary>Called under <see cref="Sync"/> by whoever took this worker off the idle list.</summary>
        public void Assign(WorkItem item)
        {
            _assigned = item;
            _hasWork = true;
            _signal.Set();
        }

        private void Loop(object? first)
        {
            var item = (WorkItem)first!;
            do
            {
                try
                {
                    item.Work(item.State);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // Callers report their own failures; this only keeps the thread alive.
                }
            }
            while (TryTakeNext(out item));

            _signal.Dispose();
        }

        private bool TryTakeNext(out WorkItem item)
        {
            lock (Sync)
            {
                if (Backlog.TryDequeue(out item))
                {
                    return true;
                }

                _hasWork = false;
                _signal.Reset();
                Idle.Add(this);
            }

            _signal.Wait(IdleTimeout);
            lock (Sync)
            {
                if (_hasWork)
                {
                    item = _assigned;
                    _assigned = default;
                    return true;
                }

                // Timed out with nothing assigned: leave the idle list and end the thread.
                Idle.Remove(this);
                _threads--;
                return false;
            }
        }
    }
}
