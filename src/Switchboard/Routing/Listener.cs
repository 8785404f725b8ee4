using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Switchboard.Routing;

/// <summary>
/// A listener: a bounded queue, optionally drained into a callback.
/// </summary>
/// <remarks>
/// <para>With one callback at a time (the default) the listener is a tiny actor. <c>_running</c> is 1 while some
/// thread runs the callback. A publisher that finds the listener idle with nothing queued claims it and runs the
/// callback inline, on its own thread, with no queue and no allocation. A publisher that finds it busy queues the
/// message; whoever releases <c>_running</c> re-checks <c>_pending</c> after a full fence, so a queued message always
/// has someone to run it (the enqueuer's increment and the releaser's exchange are both full fences, so at least
/// one of the two sees the other). Messages from one publisher thus keep their order.</para>
/// <para>With <see cref="ListenerOptions.MaxConcurrency"/> above 1, workers read the queue in parallel; without a
/// callback, the application reads it.</para>
/// <para>Callbacks that do not run on the delivering thread run on <see cref="HandlerThreads"/>, never on the .NET
/// thread pool: a callback that blocks then holds one dedicated thread, and <c>MaxConcurrency = N</c> blocking
/// callbacks really run N at once. A listener fed by a socket read loop (<see cref="OffDeliveringThread"/>) never runs
/// its callback on that loop, unless it asked to run inline (<see cref="ListenerOptions.Unbounded"/>, or
/// <see cref="ListenerOptions.BorrowData"/>), so a slow callback delays no other listener and no heartbeat.</para>
/// </remarks>
internal sealed partial class Listener : Subscription, IListenerQueue
{
    private static readonly Action<object?> DrainOnHandlerThread = static state => ((Listener)state!).Drain();
    private readonly BusCounters _counters;
    private readonly ILogger _log;
    private readonly MessageHandler? _handler;
    private readonly MessageHandler? _plainHandler;
    private readonly Channel<BusMessage> _queue;
    private readonly ListenerOptions _options;
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task[] _workers;
    private readonly bool _inline;
    private int _running;
    private int _pending;
    private long _dropped;
    private long _faults;
    private int _closed;

    /// <summary>The <see cref="Kind"/> of a listener of gather results (its <see cref="Subscription.Event"/> is the topic).</summary>
    public const string ResultListenerKind = "result listener";

    public Listener(BusCounters counters, ILogger log, string? sender, string? pattern, MessageHandler? handler, ListenerOptions options, string kind = "listener")
        : base(sender, pattern, options.Group)
    {
        _counters = counters;
        _log = log;
        // Each run of the callback is a 'process' span and counted, while anyone listens (SwitchboardTelemetry).
        _handler = handler is null ? null : SwitchboardTelemetry.Instrument(handler);
        _plainHandler = handler;
        _options = options;
        Kind = kind;
        var channelOptions = new BoundedChannelOptions(options.Capacity)
        {
            FullMode = options.Overflow switch
            {
                OverflowPolicy.DropOldest => BoundedChannelFullMode.DropOldest,
                OverflowPolicy.DropNewest => BoundedChannelFullMode.DropWrite,
                _ => BoundedChannelFullMode.Wait,
            },
            SingleReader = handler is null || options.MaxConcurrency == 1,
            AllowSynchronousContinuations = false,
        };
        _queue = Channel.CreateBounded<BusMessage>(channelOptions, OnDropped);
        _inline = handler is not null && options.MaxConcurrency == ListenerOptions.Unbounded;
        Token = _closing.Token;
        _workers = handler is not null && options.MaxConcurrency > 1 && !_inline
            ? [.. Enumerable.Range(0, options.MaxConcurrency).Select(_ => Task.Run(WorkAsync))]
            : [];
    }

    public string Kind { get; }

    /// <summary>Set by a bus whose deliveries come from a socket read loop: a callback never runs on the delivering
    /// thread, unless the listener asked to run inline (<see cref="ListenerOptions.Unbounded"/>, or
    /// <see cref="ListenerOptions.BorrowData"/> with a lent payload).</summary>
    internal bool OffDeliveringThread { get; init; }

    /// <summary>Every pattern, for a listener of several (fed by one <see cref="PatternFeed"/> each).</summary>
    internal string[]? Patterns { get; init; }

    /// <inheritdoc />
    public IReadOnlyList<string?> Events => Patterns is { } patterns ? patterns : new string?[] { Event };

    /// <summary>True for <see cref="ListenerOptions.Unbounded"/> callback listeners, which a trigger may call directly.</summary>
    internal bool IsInline => _inline;

    /// <summary>The callback of an inline listener (valid only when <see cref="IsInline"/>).</summary>
    internal MessageHandler InlineHandler => _handler!;

    /// <summary>The token handed to callbacks; cancelled when the listener closes.</summary>
    internal CancellationToken Token { get; private set; }

    /// <summary>Watches a callback that went asynchronous or failed, for an inline delivery.</summary>
    internal void ObserveInline(ValueTask pending) => _ = ObserveLaterAsync(pending);

    /// <summary>Counts a callback that threw during an inline delivery.</summary>
    internal void FaultInline(Exception error) => OnFault(error);

    public ListenerOptions Options => _options;

    public long Dropped => Volatile.Read(ref _dropped);

    public int Pending => Math.Max(0, Volatile.Read(ref _pending));

    public long Faults => Volatile.Read(ref _faults);

    public Task Completion => _completion.Task;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    public override ValueTask DeliverAsync(in BusMessage message)
    {
        if (!message.IsBorrowed)
        {
            return DeliverOwned(message);
        }

        // The callback promised not to keep the data (ListenerOptions.BorrowData): lend it when the callback runs now.
        if (_options.BorrowData && _handler is not null)
        {
            if (_inline)
            {
                return RunConcurrently(message);
            }

            if (_workers.Length == 0 && Volatile.Read(ref _pending) <= 0 && Interlocked.CompareExchange(ref _running, Claimed, Free) == Free)
            {
                RunInline(message);
                return default;
            }
        }

        return DeliverOwned(message.Detach());
    }

    // A listener keeps messages (queued, or in the hands of a callback that may hold on to them), so it owns its copy.
    private ValueTask DeliverOwned(in BusMessage message)
    {
        if (_inline)
        {
            return RunConcurrently(message);
        }

        if (_handler is not null && _workers.Length == 0 && !OffDeliveringThread)
        {
            var thread = Environment.CurrentManagedThreadId;
            if (TryRunReserved(message, thread))
            {
                return default;
            }

            if (Volatile.Read(ref _running) == Biased && _biasThread != thread)
            {
                Revoke();
            }

            if (Volatile.Read(ref _pending) <= 0 && Interlocked.CompareExchange(ref _running, Claimed, Free) == Free)
            {
                RunInline(message, thread);
                return default;
            }
        }

        return EnqueueAsync(message);
    }

    /// <summary>MaxConcurrency = Unbounded: the callback runs on the publisher's thread, whoever else runs it too.</summary>
    private ValueTask RunConcurrently(in BusMessage message)
    {
        if (IsClosed)
        {
            return default;
        }

        ValueTask pending;
        try
        {
            pending = _handler!(message, _closing.Token);
        }
        catch (Exception ex)
        {
            OnFault(ex);
            return default;
        }

        if (!pending.IsCompletedSuccessfully)
        {
            _ = ObserveLaterAsync(pending);
        }

        return default;
    }

    private async Task ObserveLaterAsync(ValueTask pending)
    {
        try
        {
            await pending;
        }
        catch (Exception ex)
        {
            OnFault(ex);
        }
    }

    private void RunInline(in BusMessage message, int thread = 0)
    {
        if (IsClosed || RunOne(message, out var stillRunning))
        {
            if (thread == 0)
            {
                Release();
            }
            else
            {
                ReleaseAfterInlineRun(thread);
            }

            return;
        }

        // The callback went asynchronous: it keeps the listener until it finishes, then drains what queued meanwhile.
        _ = FinishThenReleaseAsync(stillRunning);
    }

    private async Task FinishThenReleaseAsync(ValueTask pending)
    {
        try
        {
            await pending;
        }
        catch (Exception ex)
        {
            OnFault(ex);
        }

        Release();
    }

    private void Observe(ValueTask completed)
    {
        try
        {
            completed.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            OnFault(ex);
        }
    }

    private void Release()
    {
        Interlocked.Exchange(ref _running, Free);
        DrainIfQueued();
    }

    private void DrainIfQueued()
    {
        if (Volatile.Read(ref _pending) > 0 && Interlocked.CompareExchange(ref _running, Claimed, Free) == Free)
        {
            HandlerThreads.Run(DrainOnHandlerThread, this);
        }
    }

    private ValueTask EnqueueAsync(in BusMessage message)
    {
        if (_queue.Writer.TryWrite(message))
        {
            Accepted();
            return default;
        }

        if (IsClosed)
        {
            return default;
        }

        if (_options.Overflow == OverflowPolicy.Fail)
        {
            CountDrop();
            Cut();
            return default;
        }

        return WaitForRoomAsync(message);
    }

    private async ValueTask WaitForRoomAsync(BusMessage message)
    {
        try
        {
            await _queue.Writer.WriteAsync(message, _closing.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            // The listener closed while the publisher waited: nothing more is owed to it.
            return;
        }

        Accepted();
    }

    private void Accepted()
    {
        Interlocked.Increment(ref _pending);
        if (_handler is null || _workers.Length > 0)
        {
            return;
        }

        if (Interlocked.CompareExchange(ref _running, Claimed, Free) == Free)
        {
            HandlerThreads.Run(DrainOnHandlerThread, this);
        }
        else if (Volatile.Read(ref _running) == Biased)
        {
            RunQueuedWhileReserved();
        }
    }

    /// <summary>Runs queued messages through the callback, on a handler thread; called only by the holder of
    /// <c>_running</c>. A callback that goes asynchronous keeps <c>_running</c> and releases it when it finishes.</summary>
    private void Drain()
    {
        while (true)
        {
            while (_queue.Reader.TryRead(out var message))
            {
                Interlocked.Decrement(ref _pending);
                if (IsClosed)
                {
                    CountDrop();
                    continue;
                }

                if (!RunOne(message, out var stillRunning))
                {
                    _ = FinishThenReleaseAsync(stillRunning);
                    return;
                }
            }

            Interlocked.Exchange(ref _running, Free);
            if (Volatile.Read(ref _pending) <= 0 || Interlocked.CompareExchange(ref _running, Claimed, Free) != Free)
            {
                return;
            }
        }
    }

    /// <summary>Calls the callback; false when it went asynchronous (<paramref name="stillRunning"/> is then its task).</summary>
    private bool RunOne(in BusMessage message, out ValueTask stillRunning)
    {
        stillRunning = default;
        ValueTask pending;
        try
        {
            pending = _handler!(message, _closing.Token);
        }
        catch (Exception ex)
        {
            OnFault(ex);
            return true;
        }

        if (!pending.IsCompleted)
        {
            stillRunning = pending;
            return false;
        }

        if (!pending.IsCompletedSuccessfully)
        {
            Observe(pending);
        }

        return true;
    }

    /// <summary>One of <see cref="ListenerOptions.MaxConcurrency"/> workers: waits for a message without a thread, then
    /// runs callbacks on a handler thread until the queue is empty or a callback goes asynchronous.</summary>
    private async Task WorkAsync()
    {
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_closing.Token))
            {
                if (!reader.TryRead(out var first))
                {
                    continue;
                }

                var burst = new WorkerBurst(this, first);
                HandlerThreads.Run(static state => ((WorkerBurst)state!).Run(), burst);
                if (await burst.Task is { } stillRunning)
                {
                    await ObserveLaterAsync(new ValueTask(stillRunning));
                }
            }
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
        }
        catch (ListenerOverflowException)
        {
            // Cut: Completion already carries the error.
        }
    }

    /// <summary>A worker's run of callbacks on a handler thread; completes with the callback that went asynchronous, if one did.</summary>
    private sealed class WorkerBurst : TaskCompletionSource<Task?>
    {
        private readonly Listener _owner;
        private readonly BusMessage _first;

        public WorkerBurst(Listener owner, BusMessage first)
            : base(TaskCreationOptions.RunContinuationsAsynchronously)
        {
            _owner = owner;
            _first = first;
        }

        public void Run()
        {
            var message = _first;
            do
            {
                Interlocked.Decrement(ref _owner._pending);
                if (_owner._closing.IsCancellationRequested)
                {
                    _owner.CountDrop();
                }
                else if (!_owner.RunOne(message, out var stillRunning))
                {
                    TrySetResult(stillRunning.AsTask());
                    return;
                }
            }
            while (_owner._queue.Reader.TryRead(out message));

            TrySetResult(null);
        }
    }

    private void OnDropped(BusMessage message)
    {
        Interlocked.Decrement(ref _pending);
        CountDrop();
    }

    private void CountDrop()
    {
        Interlocked.Increment(ref _dropped);
        _counters.AddListenerDrop();
    }

    private void OnFault(Exception ex)
    {
        if (ex is OperationCanceledException && _closing.IsCancellationRequested)
        {
            return;
        }

        Interlocked.Increment(ref _faults);
        _counters.AddHandlerFault();
        _log.ListenerFaulted(ex, Kind, Sender ?? "*", Event ?? "*");
    }

    private void Cut()
    {
        var error = new ListenerOverflowException(_options.Capacity);
        _log.ListenerCut(Kind, Sender ?? "*", Event ?? "*", _options.Capacity);
        _ = CloseAsync(error);
    }

    /// <summary>Stops delivery, removes the listener from the router and completes <see cref="Completion"/>.</summary>
    public override async ValueTask CloseAsync(Exception? error)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        if (Volatile.Read(ref _running) == Biased)
        {
            Revoke(); // a reserved run does not check the closed flag: end the reservation instead
        }

        if (_inline)
        {
            // Inline deliveries check this token, not the closed flag: cancel it first so none starts from now on.
            await _closing.CancelAsync();
        }

        if (Unregister is { } unregister)
        {
            await unregister(this);
        }

        _queue.Writer.TryComplete(error);
        if (_handler is not null)
        {
            // Queued messages will not run now: count them, so their loss is visible.
            while (_workers.Length == 0 && Volatile.Read(ref _running) == Free && _queue.Reader.TryRead(out _))
            {
                Interlocked.Decrement(ref _pending);
                CountDrop();
            }
        }

        await _closing.CancelAsync();
        if (_workers.Length > 0)
        {
            await Task.WhenAll(_workers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (error is null)
        {
            _completion.TrySetResult();
        }
        else
        {
            _completion.TrySetException(error);
        }
    }

    public ValueTask DisposeAsync() => CloseAsync(null);

    public async IAsyncEnumerable<BusMessage> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        EnsureQueue();
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync(cancellationToken))
        {
            while (reader.TryRead(out var message))
            {
                Interlocked.Decrement(ref _pending);
                SwitchboardTelemetry.Received(message);
                yield return message;
            }
        }
    }

    public bool TryRead(out BusMessage message)
    {
        EnsureQueue();
        if (_queue.Reader.TryRead(out message))
        {
            Interlocked.Decrement(ref _pending);
            SwitchboardTelemetry.Received(message);
            return true;
        }

        return false;
    }

    public async ValueTask<BusMessage> ReadAsync(CancellationToken cancellationToken = default)
    {
        EnsureQueue();
        try
        {
            var message = await _queue.Reader.ReadAsync(cancellationToken);
            Interlocked.Decrement(ref _pending);
            SwitchboardTelemetry.Received(message);
            return message;
        }
        catch (ChannelClosedException ex) when (ex.InnerException is null)
        {
            throw new SwitchboardException(ErrorCodes.Closed, "The listener is closed; no more messages will arrive.", ex);
        }
    }

    private void EnsureQueue()
    {
        if (_handler is not null)
        {
            throw new InvalidOperationException("This listener delivers to a callback; only a listener registered without one can be read.");
        }
    }
}
