using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Switchboard.Server.Http;

/// <summary>What an SSE stream listens to: a sender (or any) and an event pattern (or any), as in the query of <c>/events</c>.</summary>
internal readonly record struct StreamKey(string? Sender, string? Event)
{
    public override string ToString() => $"sender={Sender ?? "*"} event={Event ?? "*"}";
}

/// <summary>One delivery, encoded once as a whole SSE frame (<c>id</c>, <c>event</c>, <c>data</c>, blank line) for every client.</summary>
internal readonly record struct SseEntry(long Seq, byte[] Frame);

/// <summary>What a client missed: ids <see cref="From"/> to <see cref="To"/> (null: not known), and why.</summary>
internal readonly record struct SseGap(long? From, long? To, long? Count, string Reason);

/// <summary>
/// One SSE stream: a bus listener (a bounded queue, <see cref="OverflowPolicy.DropNewest"/>, drops counted and announced)
/// whose pump numbers each message with the next id and keeps it, encoded, in a ring of the last
/// <see cref="HttpGatewayOptions.SseHistory"/> messages (and at most <see cref="HttpGatewayOptions.SseHistoryBytes"/> bytes).
/// Every client of the stream reads the ring from its own position, so a client that reconnects with <c>Last-Event-ID</c>
/// gets what it missed, and one that fell behind the ring is told what it lost. Ids within one stream are consecutive;
/// a stream starts at an id above every id used before for any stream of this gateway, and above the microseconds of
/// the Unix time, so ids from an earlier stream (or an earlier broker) are never mistaken for later messages.
/// </summary>
internal sealed class SseStream
{
    private const int MaxBatch = 256;

    /// <summary>How often a quiet pump looks for drops it has not announced yet.</summary>
    private static readonly TimeSpan DropCheck = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly HttpGatewayOptions _options;
    private readonly BrokerMetrics _metrics;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly SseEntry[] _ring;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _head;
    private int _count;
    private long _bytes;
    private long _nextSeq;
    private long _seenDropped;
    private IListenerQueue? _listener;
    private Task _pump = Task.CompletedTask;

    public SseStream(StreamKey key, long firstSeq, HttpGatewayOptions options, BrokerMetrics metrics, ILogger log, TimeProvider time)
    {
        _time = time;
        Key = key;
        FirstSeq = firstSeq;
        _nextSeq = firstSeq;
        _options = options;
        _metrics = metrics;
        _log = log;
        _ring = new SseEntry[options.SseHistory];
    }

    public StreamKey Key { get; }

    /// <summary>The id of this stream's first message.</summary>
    public long FirstSeq { get; }

    /// <summary>Clients reading it now (changed under the hub's lock).</summary>
    public int Clients { get; set; }

    /// <summary>When the last client left (timestamp of the hub's clock).</summary>
    public long IdleSince { get; set; }

    /// <summary>Completes when the stream's listener is registered (or faults when it could not be).</summary>
    public Task Started => _started.Task;

    /// <summary>The id of the newest message (<see cref="FirstSeq"/> - 1 before any).</summary>
    public long LastSeq
    {
        get
        {
            lock (_lock)
            {
                return _nextSeq - 1;
            }
        }
    }

    /// <summary>Messages in the history now.</summary>
    public int HistoryCount
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Messages this stream's listener dropped.</summary>
    public long Dropped => _listener?.Dropped ?? 0;

    /// <summary>Registers the stream's listener and starts its pump.</summary>
    public async Task StartAsync(IBus bus)
    {
        try
        {
            var options = new ListenerOptions { Capacity = _options.SseListenerCapacity, Overflow = OverflowPolicy.DropNewest, ReceiveRetained = true };
            _listener = await bus.ListenAsync(Key.Sender, Key.Event, options, _stop.Token);
            _pump = PumpAsync(_listener);
            _started.TrySetResult();
            _log.StreamOpened(Key.ToString(), FirstSeq);
        }
        catch (Exception ex)
        {
            _started.TrySetException(ex);
        }
    }

    /// <summary>Closes the listener and waits for the pump.</summary>
    public async Task StopAsync()
    {
        await _started.Task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _stop.CancelAsync();
        if (_listener is { } listener)
        {
            await listener.DisposeAsync();
        }

        await _pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
        Signal();
    }

    /// <summary>
    /// Copies into <paramref name="into"/> up to a batch of the messages after <paramref name="after"/>. When some of
    /// them are no longer held, says which in <paramref name="gap"/> and starts from the oldest held. Returns the
    /// position the entries follow (so <c>into[^1].Seq</c> or, with none, the position to wait from).
    /// </summary>
    public long ReadAfter(long after, List<SseEntry> into, out SseGap? gap)
    {
        gap = null;
        lock (_lock)
        {
            var last = _nextSeq - 1;
            if (after > last)
            {
                // An id this stream never gave (another broker's, or forged): what was missed cannot be known.
                gap = new SseGap(null, null, null, "unknown_id");
                return last;
            }

            var oldest = _count > 0 ? _ring[_head].Seq : _nextSeq;
            if (after + 1 < oldest)
            {
                gap = after + 1 < FirstSeq
                    ? new SseGap(after + 1, oldest - 1, null, "not_recorded")
                    : new SseGap(after + 1, oldest - 1, oldest - 1 - after, "history_overrun");
                after = oldest - 1;
            }

            var skip = (int)(after + 1 - oldest);
            var take = Math.Min(MaxBatch, _count - skip);
            for (var i = 0; i < take; i++)
            {
                into.Add(_ring[(_head + skip + i) % _ring.Length]);
            }

            return after;
        }
    }

    /// <summary>A task that completes when a message after <paramref name="after"/> exists (or the stream stopped).</summary>
    public Task ChangedAfter(long after)
    {
        lock (_lock)
        {
            return _nextSeq - 1 > after ? Task.CompletedTask : _changed.Task;
        }
    }

    private async Task PumpAsync(IListenerQueue listener)
    {
        var batch = new List<BusMessage>(MaxBatch);
        var frames = new List<SseEntry>(MaxBatch + 1);
        var buffer = new ArrayBufferWriter<byte>(1024);
        var json = new Utf8JsonWriter(buffer, HttpJson.WriterOptions);
        Task<BusMessage>? pending = null;
        try
        {
            while (true)
            {
                if (pending is null && listener.TryRead(out var ready))
                {
                    batch.Add(ready);
                }
                else
                {
                    pending ??= listener.ReadAsync(_stop.Token).AsTask();
                    try
                    {
                        // Quiet for a while: announce drops that happened after the last batch was read.
                        await pending.WaitAsync(DropCheck, _time);
                    }
                    catch (TimeoutException)
                    {
                        NoticeDrops(listener, buffer, json, frames);
                        if (frames.Count > 0)
                        {
                            Append(frames);
                            frames.Clear();
                        }

                        continue;
                    }

                    batch.Add(await pending);
                    pending = null;
                }

                while (batch.Count < MaxBatch && listener.TryRead(out var more))
                {
                    batch.Add(more);
                }

                NoticeDrops(listener, buffer, json, frames);
                var seq = _nextSeq + frames.Count;
                foreach (var m in batch)
                {
                    frames.Add(new SseEntry(seq, Encode(buffer, json, seq++, m.Event, w =>
                    {
                        w.WriteString("sender", m.Sender);
                        w.WriteString("event", m.Event);
                        w.WritePropertyName("data");
                        JsonPayload.Write(w, m.Data);
                    })));
                }

                Append(frames);
                batch.Clear();
                frames.Clear();
            }
        }
        catch (SwitchboardException ex) when (ex.Code == ErrorCodes.Closed)
        {
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _log.StreamFailed(ex, Key.ToString());
        }
        finally
        {
            await json.DisposeAsync();
        }
    }

    /// <summary>Adds an <c>sb-dropped</c> entry when the listener dropped messages since the last look. Only the pump
    /// adds entries, so it may number them before taking the lock.</summary>
    private void NoticeDrops(IListenerQueue listener, ArrayBufferWriter<byte> buffer, Utf8JsonWriter json, List<SseEntry> frames)
    {
        var dropped = listener.Dropped;
        if (dropped <= _seenDropped)
        {
            return;
        }

        var delta = dropped - _seenDropped;
        _seenDropped = dropped;
        _metrics.AddSseListenerDrops(delta);
        _log.StreamDropped(Key.ToString(), delta, _options.SseListenerCapacity);
        var seq = _nextSeq + frames.Count;
        frames.Add(new SseEntry(seq, Encode(buffer, json, seq, "sb-dropped", w =>
        {
            w.WriteNumber("dropped", delta);
            w.WriteNumber("total", dropped);
        })));
    }

    private static byte[] Encode(ArrayBufferWriter<byte> buffer, Utf8JsonWriter json, long seq, string eventName, Action<Utf8JsonWriter> data)
    {
        buffer.ResetWrittenCount();
        Write(buffer, "id: ");
        Write(buffer, seq.ToString(CultureInfo.InvariantCulture));
        Write(buffer, "\nevent: ");
        Write(buffer, eventName);
        Write(buffer, "\ndata: ");
        json.Reset(buffer);
        json.WriteStartObject();
        data(json);
        json.WriteEndObject();
        json.Flush();
        Write(buffer, "\n\n");
        return buffer.WrittenSpan.ToArray();
    }

    private static void Write(ArrayBufferWriter<byte> buffer, string text)
    {
        var span = buffer.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        buffer.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    private void Append(List<SseEntry> entries)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            foreach (var entry in entries)
            {
                if (_count == _ring.Length)
                {
                    RemoveOldest();
                }

                _ring[(_head + _count) % _ring.Length] = entry;
                _count++;
                _bytes += entry.Frame.Length;
                while (_bytes > _options.SseHistoryBytes && _count > 1)
                {
                    RemoveOldest();
                }

                _nextSeq = entry.Seq + 1;
            }

            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    private void RemoveOldest()
    {
        _bytes -= _ring[_head].Frame.Length;
        _ring[_head] = default;
        _head = (_head + 1) % _ring.Length;
        _count--;
    }

    private void Signal()
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }
}
