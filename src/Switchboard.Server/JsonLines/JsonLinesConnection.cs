using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Switchboard.Routing;
using Switchboard.Transports;

namespace Switchboard.Server;

/// <summary>
/// One JSON-lines connection: the JSON twin of <see cref="BrokerConnection"/>. A read loop cuts the transport's bytes
/// into lines (each bounded by <see cref="BrokerOptions.MaxJsonLineBytes"/>; a longer one is skipped, never held whole)
/// and turns each into calls on this connection's <see cref="RouterSession"/>; one write loop drains the bounded
/// <see cref="OutboundBuffer"/> into the transport. A bad line gets an error line; the connection and what it
/// registered stay. Split by concern: this file holds the loops and the lifecycle, <c>JsonLinesConnection.Verbs.cs</c>
/// what each verb does, <c>JsonLinesConnection.Output.cs</c> the lines the broker writes.
/// </summary>
internal sealed partial class JsonLinesConnection
{
    /// <summary>An unfinished line shorter than this waits in the transport's pipe; a longer one is copied out, so the
    /// pipe never holds enough to pause the transport (whose read buffer may be smaller than the line limit).</summary>
    private const int HoldInPipe = 16 * 1024;

    /// <summary>A line buffer grown past this is dropped after use, so one big line does not pin memory.</summary>
    private const int KeepLineBuffer = 64 * 1024;

    private static long s_ids;
    private static readonly JsonDocumentOptions ParseOptions = new() { MaxDepth = 64 };
    private static readonly JsonWriterOptions WriteOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly Broker _broker;
    private readonly ConnectionContext _context;
    private readonly int _maxLine;
    private readonly CancellationTokenSource _closing = new();
    private readonly ConcurrentDictionary<string, SenderRegistration> _senders = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, JsonLineSubscription> _listens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ProducerRegistration> _producers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<Payload>> _awaiting = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, byte> _background = new();
    private ArrayBufferWriter<byte>? _line;
    private bool _skipping;
    private RouterSession? _session;
    private long _nextRid;
    private long _unnamedListens;
    private string? _stop;
    private bool _clean;
    private string? _abortReason;
    private int _slow;

    public JsonLinesConnection(Broker broker, ConnectionContext context)
    {
        _broker = broker;
        _context = context;
        _maxLine = broker.Options.MaxJsonLineBytes;
        _lines = new LineWriter(broker.Options.MaxOutboundBytes, WriteOptions);
        Id = $"j{Interlocked.Increment(ref s_ids)}";
    }

    public string Id { get; }

    public string ClientName { get; private set; } = "(json lines)";

    private readonly LineWriter _lines;

    private Router Router => _broker.Router;

    private TimeProvider Time => _broker.Options.Bus.TimeProvider;

    public async Task RunAsync()
    {
        var writing = WriteLoopAsync();
        var reason = "closed by the client";
        var remote = _context.RemoteEndPoint?.ToString() ?? "unix socket";
        using var stopping = RegisterStopping();
        using var handshake = _broker.Options.Authenticate is null
            ? null
            : Time.CreateTimer(static state => ((JsonLinesConnection)state!).OnHandshakeTimeout(), this, _broker.Options.HandshakeTimeout, Timeout.InfiniteTimeSpan);
        try
        {
            if (_broker.IsShuttingDown || _closing.IsCancellationRequested)
            {
                SendError(null, ErrorCodes.GoingAway, "This broker is shutting down; connect to another one.");
                reason = "refused: shutting down";
            }
            else
            {
                _broker.Log.JsonLinesJoined(Id, remote);
                var ended = await ReadLoopAsync();
                if (ended && _stop is null)
                {
                    // The client stopped sending (end of input): answer what it asked before, then close.
                    await Task.WhenAll(_background.Keys).WaitAsync(_closing.Token);
                }

                reason = _stop ?? _abortReason ?? "closed by the client";
            }
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
            reason = _abortReason ?? "aborted";
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException)
        {
            reason = _abortReason ?? $"connection lost ({ex.GetType().Name})";
        }
        catch (Exception ex)
        {
            reason = "internal error";
            _broker.Log.JsonLinesFailed(ex, Id, ClientName);
            SendError(null, ErrorCodes.InternalError, "The broker failed while handling this connection: " + ex.Message);
        }
        finally
        {
            foreach (var (_, pending) in _awaiting)
            {
                pending.TrySetException(new SwitchboardException(ErrorCodes.Closed, $"The connection of client '{ClientName}' closed before it answered."));
            }

            if (Volatile.Read(ref _session) is { } session)
            {
                // Only "bye" (or the broker leaving) is a clean close; a connection that just ends fires its senders' last wills.
                await Router.CloseSessionAsync(session, clean: Volatile.Read(ref _clean));
            }

            _lines.Complete();
            if (await Task.WhenAny(writing, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)) == writing)
            {
                // Everything is written: close gracefully, so the last lines (an error, bye's ok) reach the client.
                try
                {
                    await _context.Transport.Output.CompleteAsync();
                }
                catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException)
                {
                }
            }
            else
            {
                _context.Abort();
            }

            await _closing.CancelAsync();
            _lines.Dispose();

            _broker.Log.JsonLinesLeft(Id, ClientName, reason);
        }
    }

    /// <summary>Closes this connection when the broker stops (one that arrives after the broker stopped is refused).</summary>
    private CancellationTokenRegistration RegisterStopping()
    {
        try
        {
            return _broker.Stopping.Register(static state => ((JsonLinesConnection)state!).Abort("broker stopped", clean: true), this);
        }
        catch (ObjectDisposedException)
        {
            Abort("broker stopped", clean: true);
            return default;
        }
    }

    /// <summary>Ends the connection: the read loop stops, what is already queued is still written (for up to 2 s),
    /// then the transport closes. <paramref name="hard"/> cuts the transport at once (a peer that does not read).
    /// Unless <paramref name="clean"/>, its senders' last wills fire.</summary>
    public void Abort(string reason, bool clean = false, bool hard = false)
    {
        _abortReason ??= reason;
        if (clean)
        {
            Volatile.Write(ref _clean, true);
        }

        try
        {
            _closing.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        if (hard)
        {
            _lines.Complete();
            _context.Abort(new ConnectionAbortedException(reason));
        }
    }

    /// <summary>Called under the outbound lock when a delivery finds the buffer over its limit.</summary>
    public void OnOutboundFull()
    {
        Router.Counters.AddListenerDrop();
        var policy = _broker.Options.SlowConsumerPolicy;
        if (Interlocked.Exchange(ref _slow, 1) != 0)
        {
            return;
        }

        _broker.Log.JsonLinesSlowConsumer(Id, ClientName, _lines.Buffered, _broker.Options.MaxOutboundBytes, policy);
        if (policy == SlowConsumerPolicy.Disconnect)
        {
            ThreadPool.QueueUserWorkItem(static connection => connection.Abort("slow_consumer", hard: true), this, preferLocal: false);
        }
    }

    private void OnHandshakeTimeout()
    {
        if (Volatile.Read(ref _session) is null)
        {
            SendError(null, ErrorCodes.Unauthorized, $"No hello within {_broker.Options.HandshakeTimeout.TotalSeconds:0.#} s (the HandshakeTimeout setting); this broker requires {{\"op\":\"hello\",\"client\":\"NAME\",\"token\":\"...\"}} as the first line.");
            Abort("no hello");
        }
    }

    /// <summary>Reads lines until the input ends (true) or a verb ended the connection (false).</summary>
    private async Task<bool> ReadLoopAsync()
    {
        var input = _context.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync(_closing.Token);
            var buffer = result.Buffer;
            try
            {
                while (TryTakeLine(ref buffer, out var pending))
                {
                    if (!pending.IsCompletedSuccessfully)
                    {
                        await pending;
                    }

                    if (_stop is not null)
                    {
                        return false;
                    }
                }

                if (result.IsCompleted)
                {
                    // The last line may lack its newline.
                    var last = TakeLastLine(ref buffer);
                    if (!last.IsCompletedSuccessfully)
                    {
                        await last;
                    }

                    return _stop is null;
                }

                KeepTail(ref buffer);
            }
            finally
            {
                input.AdvanceTo(buffer.Start, buffer.End);
            }

            if (result.IsCanceled)
            {
                return true;
            }
        }
    }

    /// <summary>Takes the next whole line out of <paramref name="buffer"/> and starts handling it; false when no newline is left.</summary>
    private bool TryTakeLine(ref ReadOnlySequence<byte> buffer, out ValueTask pending)
    {
        pending = default;
        if (buffer.PositionOf((byte)'\n') is not { } newline)
        {
            return false;
        }

        var line = buffer.Slice(0, newline);
        buffer = buffer.Slice(buffer.GetPosition(1, newline));
        if (_skipping)
        {
            // The end of a line already answered with line_too_long.
            _skipping = false;
            return true;
        }

        pending = HandleLine(line);
        return true;
    }

    private ValueTask TakeLastLine(ref ReadOnlySequence<byte> buffer)
    {
        var line = buffer;
        buffer = buffer.Slice(buffer.End);
        if (_skipping || (line.IsEmpty && (_line?.WrittenCount ?? 0) == 0))
        {
            return default;
        }

        return HandleLine(line);
    }

    /// <summary>Handles one line given by its bytes in the pipe (after any part already copied out).</summary>
    private ValueTask HandleLine(ReadOnlySequence<byte> line)
    {
        var held = _line?.WrittenCount ?? 0;
        if (held + line.Length > _maxLine)
        {
            ReleaseLine();
            SendTooLong();
            return default;
        }

        ReadOnlyMemory<byte> bytes;
        if (held == 0 && line.IsSingleSegment)
        {
            bytes = line.First;
        }
        else
        {
            var copy = _line ??= new ArrayBufferWriter<byte>((int)Math.Max(256, Math.Min(_maxLine, line.Length + 1)));
            foreach (var segment in line)
            {
                copy.Write(segment.Span);
            }

            bytes = copy.WrittenMemory;
        }

        try
        {
            // Everything a verb needs is copied out of the line before this returns; its pending part never reads the bytes.
            return OnLine(bytes);
        }
        finally
        {
            ReleaseLine();
        }
    }

    /// <summary>Keeps an unfinished line: small ones wait in the pipe, longer ones are copied out, over-long ones are skipped.</summary>
    private void KeepTail(ref ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return;
        }

        var held = _line?.WrittenCount ?? 0;
        if (_skipping)
        {
            buffer = buffer.Slice(buffer.End);
        }
        else if (held + buffer.Length > _maxLine)
        {
            ReleaseLine();
            _skipping = true;
            SendTooLong();
            buffer = buffer.Slice(buffer.End);
        }
        else if (held > 0 || buffer.Length >= HoldInPipe)
        {
            var copy = _line ??= new ArrayBufferWriter<byte>((int)Math.Max(256, Math.Min(_maxLine, Math.Max(buffer.Length * 2, HoldInPipe))));
            foreach (var segment in buffer)
            {
                copy.Write(segment.Span);
            }

            buffer = buffer.Slice(buffer.End);
        }
    }

    private void ReleaseLine()
    {
        if (_line is { } line)
        {
            if (line.Capacity > KeepLineBuffer)
            {
                _line = null;
            }
            else
            {
                line.ResetWrittenCount();
            }
        }
    }

    private void SendTooLong() =>
        SendError(null, ErrorCodes.LineTooLong, $"A line was longer than {_maxLine} bytes (the MaxJsonLineBytes setting); it was skipped up to its newline. Send large data in several messages.");

    private async Task WriteLoopAsync()
    {
        var output = _context.Transport.Output;
        try
        {
            while (true)
            {
                var batch = await _lines.TakeAsync(CancellationToken.None);
                if (batch.IsEmpty)
                {
                    break;
                }

                var flushed = await output.WriteAsync(batch);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            Abort("write failed");
        }
    }

    /// <summary>Runs work that answers later (requests, gathers); the end of input waits for it before closing.</summary>
    private void Track(Task work)
    {
        if (work.IsCompleted)
        {
            return;
        }

        _background.TryAdd(work, 0);
        _ = work.ContinueWith(static (done, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(done, out _), _background, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }
}
