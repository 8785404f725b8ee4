using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;
using Switchboard.Routing;
using Switchboard.Transports;
using Switchboard.Wire;

namespace Switchboard.Server;

/// <summary>
/// One client connection: a read loop that parses frames from the transport's pipe and turns them into router
/// calls on this connection's <see cref="RouterSession"/>, and a write loop that drains the outbound buffer into the
/// transport in batches. Split by concern: this file holds the loops and the lifecycle, <c>BrokerConnection.Frames.cs</c>
/// what each frame does.
/// </summary>
internal sealed partial class BrokerConnection
{
    private static long s_ids;
    private readonly Broker _broker;
    private readonly ConnectionContext _context;
    private readonly FrameParser _parser;
    private readonly CancellationTokenSource _closing = new();
    private readonly ConcurrentDictionary<uint, Subscription> _subscriptions = new();
    private readonly ConcurrentDictionary<string, SenderRegistration> _senders = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SenderRegistration>.AlternateLookup<ReadOnlySpan<char>> _sendersByChars;
    private readonly ConcurrentDictionary<string, ProducerRegistration> _producers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<Payload>> _awaitingReply = new();
    // A plain dictionary under its own lock, not a ConcurrentDictionary: that one allocates a node per request.
    private readonly Dictionary<uint, ForwardedRequest> _forwarded = [];
    private readonly RequestHandler _forwardRequests;
    private readonly NameCache _names = new();
    private readonly Stack<ForwardedRequest> _forwardedPool = new();
    private bool _forwardedPoolClosed;
    private bool _forwardingClosed;
    private const int MaxPooledForwarded = 1024;
    private int _forwardedCount;
    private int _askedCount;
    private RouterSession? _session;
    private uint _nextOutgoingId;
    private long _lastReceived;
    private long _lastSent;
    private readonly bool _lossy;
    private bool _goodbye;
    private volatile bool _aborted;
    private long _messagesIn;
    private string? _abortReason;
    private int _slow;

    public BrokerConnection(Broker broker, ConnectionContext context, bool lossy = false)
    {
        _broker = broker;
        _context = context;
        _lossy = lossy;
        _parser = new FrameParser(broker.Options.MaxFrameSize);
        Writer = new FrameWriter(broker.Options.MaxOutboundBytes);
        Id = $"c{Interlocked.Increment(ref s_ids)}";
        _sendersByChars = _senders.GetAlternateLookup<ReadOnlySpan<char>>();
        _forwardRequests = AskClientAsync;
        _lastReceived = _lastSent = Time.GetTimestamp();
    }

    public string Id { get; }

    public string ClientName { get; private set; } = "(before HELLO)";

    /// <summary>Every frame to this client goes through it.</summary>
    public FrameWriter Writer { get; }

    /// <summary>TRIGGER frames routed from this connection (written by the read loop only).</summary>
    public long MessagesIn => Volatile.Read(ref _messagesIn);

    /// <summary>EVENT frames written for this connection's subscriptions.</summary>
    public long MessagesOut => Writer.MessagesWritten;

    public long LastReceived => Volatile.Read(ref _lastReceived);

    public long LastSent => Volatile.Read(ref _lastSent);

    private TimeProvider Time => _broker.Options.Bus.TimeProvider;

    private Router Router => _broker.Router;

    public async Task RunAsync()
    {
        _broker.Add(this);
        var writing = WriteLoopAsync();
        var reason = "closed by the client";
        using var handshake = Time.CreateTimer(static state => ((BrokerConnection)state!).OnHandshakeTimeout(), this, _broker.Options.HandshakeTimeout, Timeout.InfiniteTimeSpan);
        try
        {
            await ReadLoopAsync();
            reason = _goodbye ? "goodbye" : _abortReason ?? "closed by the client";
        }
        catch (CredentialsRefusedException ex)
        {
            // Not a protocol error: counted and logged as a refusal (a scanner guessing tokens is not a buggy client).
            reason = ex.Code;
            _broker.CountAuthRefusal();
            _broker.Log.CredentialsRefused(Id, ClientName, ex.Message);
            SendError(0, fatal: true, ex.Code, ex.Message);
        }
        catch (ProtocolException ex)
        {
            reason = ex.Code;
            _broker.CountProtocolError();
            _broker.Log.ProtocolViolation(Id, ClientName, ex.Code, ex.Message);
            SendError(0, fatal: true, ex.Code, ex.Message);
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
            reason = _abortReason ?? "aborted";
        }
        catch (Exception ex) when (ex is IOException or System.Net.WebSockets.WebSocketException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException)
        {
            reason = _abortReason ?? $"connection lost ({ex.GetType().Name})";
        }
        catch (Exception ex)
        {
            reason = "internal error";
            _broker.Log.ConnectionFailed(ex, Id, ClientName);
            SendError(0, fatal: true, ErrorCodes.InternalError, "The broker failed while handling this connection: " + ex.Message);
        }
        finally
        {
            _broker.Remove(this);
            foreach (var (_, pending) in _awaitingReply)
            {
                pending.TrySetException(new SwitchboardException(ErrorCodes.Closed, $"The connection of client '{ClientName}' closed before it answered."));
            }

            foreach (var forwarded in EndForwarded(static (_, _) => true, this, close: true))
            {
                forwarded.Fail($"The connection of client '{ClientName}' closed before it answered.");
                ReturnForwarded(forwarded);
            }

            CloseForwardedPool();

            if (_session is { } session)
            {
                await Router.CloseSessionAsync(session, clean: _goodbye);
            }

            Writer.Complete();
            var flushed = await Task.WhenAny(writing, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)) == writing;
            if (flushed && !_aborted)
            {
                await CloseGracefullyAsync();
            }
            else
            {
                _context.Abort();
            }

            await _closing.CancelAsync();
            _broker.Log.ClientLeft(Id, ClientName, reason);
        }
    }

    /// <summary>
    /// Sends FIN after the last frame (a fatal ERROR must reach the peer), then reads and discards what the peer still
    /// sends for a moment: closing with unread input would make the kernel send RST, and the peer could lose the error.
    /// </summary>
    private async Task CloseGracefullyAsync()
    {
        try
        {
            await _context.Transport.Output.CompleteAsync();
            using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            var input = _context.Transport.Input;
            while (true)
            {
                var result = await input.ReadAsync(drain.Token);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception)
        {
            // Best effort on the way out, whatever the carrier throws (a socket reset, a WebSocket without a close
            // handshake, a stream that no longer reads): the connection is over either way.
            _context.Abort();
        }
    }

    /// <summary>Closes the connection at once. Unless <paramref name="clean"/>, it counts as a death: its senders' last wills fire.</summary>
    public void Abort(string reason, bool clean = false)
    {
        _aborted = true;
        _abortReason ??= reason;
        if (clean)
        {
            _goodbye = true;
        }

        Writer.Complete();
        try
        {
            _closing.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        _context.Abort(new ConnectionAbortedException(reason));
    }

    public void SendPing()
    {
        Writer.Write(Lane.Control, (ulong)Time.GetTimestamp(), static (output, crc, in nonce) => Frames.PingPong(output, crc, FrameType.Ping, nonce));
    }

    public void SendGoingAway(string reason)
    {
        Writer.Write(Lane.Control, reason, static (output, crc, in why) => Frames.GoingAway(output, crc, why));
    }

    /// <summary>Called under the outbound lock when a delivery finds the buffer over its limit.</summary>
    public void OnOutboundFull()
    {
        if (_broker.Options.SlowConsumerPolicy == SlowConsumerPolicy.DropNewest)
        {
            Router.Counters.AddListenerDrop();
            if (Interlocked.Exchange(ref _slow, 1) == 0)
            {
                _broker.OnSlowConsumer(this, Writer.Buffered);
            }

            return;
        }

        if (Interlocked.Exchange(ref _slow, 1) == 0)
        {
            Router.Counters.AddListenerDrop();
            var buffered = Writer.Buffered;
            ThreadPool.QueueUserWorkItem(static state =>
            {
                var (connection, bytes) = state;
                connection._broker.OnSlowConsumer(connection, bytes);
                connection.Abort("slow_consumer");
            }, (this, (long)buffered), preferLocal: false);
        }
    }

    private void OnHandshakeTimeout()
    {
        if (Volatile.Read(ref _session) is null)
        {
            SendError(0, fatal: true, ErrorCodes.UnexpectedFrame, $"No HELLO within {_broker.Options.HandshakeTimeout.TotalSeconds:0.#} s (the HandshakeTimeout setting).");
            Abort("no HELLO");
        }
    }

    private async Task ReadLoopAsync()
    {
        var input = _context.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync(_closing.Token);
            var buffer = result.Buffer;
            Volatile.Write(ref _lastReceived, Time.GetTimestamp()); // once per read, not per frame: it is only for heartbeats
            // Recipients are woken once for the whole batch, after it is routed, and their writes run here (nats-server
            // flushes its clients the same way at the end of each read).
            OutboundBuffer.DeferSignals();
            try
            {
                while (TryProcessTolerant(ref buffer, out var pending))
                {
                    if (!pending.IsCompletedSuccessfully)
                    {
                        OutboundBuffer.SignalDeferred(); // the await may resume on another thread
                        await pending;
                        OutboundBuffer.DeferSignals();
                    }

                    if (_goodbye)
                    {
                        return;
                    }
                }
            }
            finally
            {
                OutboundBuffer.SignalDeferred();
                input.AdvanceTo(buffer.Start, buffer.End);
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                return;
            }
        }
    }

    /// <summary>On a lossy carrier (a serial line) a frame that fails its CRC is dropped and counted; the link goes on.</summary>
    private bool TryProcessTolerant(ref ReadOnlySequence<byte> buffer, out ValueTask pending)
    {
        while (true)
        {
            try
            {
                return TryProcess(ref buffer, out pending);
            }
            catch (ProtocolException ex) when (_lossy && ex.Code == ErrorCodes.BadChecksum)
            {
                Router.Counters.AddCorruptFrame();
                _broker.Log.ProtocolViolation(Id, ClientName, ex.Code, ex.Message + " (dropped; the link goes on)");
            }
        }
    }

    private bool TryProcess(ref ReadOnlySequence<byte> buffer, out ValueTask pending)
    {
        if (!_parser.TryReadFrame(ref buffer, out var type, out var body))
        {
            pending = default;
            return false;
        }

        pending = Dispatch(type, body);
        return true;
    }

    private async Task WriteLoopAsync()
    {
        var output = _context.Transport.Output;
        try
        {
            while (true)
            {
                var batch = await Writer.TakeAsync(CancellationToken.None);
                if (batch.IsEmpty)
                {
                    break;
                }

                Volatile.Write(ref _lastSent, Time.GetTimestamp());
                var flushed = await output.WriteAsync(batch);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or System.Net.WebSockets.WebSocketException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            Abort("write failed");
        }
    }

    private void SendError(uint correlation, bool fatal, string code, string message)
    {
        Writer.Write(Lane.Control, (correlation, fatal, code, message), static (output, crc, in e) => Frames.Error(output, crc, e.correlation, e.fatal, e.code, e.message));
    }

    private void SendOk(uint correlation, string? detail = null)
    {
        Writer.Write(Lane.Data, (correlation, detail), static (output, crc, in ok) => Frames.Ok(output, crc, ok.correlation, ok.detail));
    }

    internal void SendReply(uint id, string? code, string? message, Payload data)
    {
        Writer.Write(Lane.Data, (id, code, message, data), static (output, crc, in r) => Frames.Reply(output, crc, r.id, r.code, r.message, r.data));
    }
}
