using System.Diagnostics;
using Microsoft.AspNetCore.Connections;
using Switchboard.Routing;
using Switchboard.Server.Security;

namespace Switchboard.Server;

/// <summary>
/// One client of the broker, whatever protocol it speaks: its admission, its <see cref="RouterSession"/> and what it
/// registered, requests relayed to it and from it, gathers it started, heartbeats, the lame-duck notice, the
/// slow-consumer policy, its counts and its close. A codec (<see cref="BinaryPeer"/>, <see cref="JsonLinesPeer"/>)
/// only turns its protocol's input into calls on this class and this class's answers into its protocol's output; it
/// owns the read loop, because framing differs, and the outbound writer, because encoding does.
/// Split by concern: this file holds the life of the connection, <c>BrokerPeer.Registrations.cs</c> senders,
/// producers and gathers, <c>BrokerPeer.Requests.cs</c> requests both ways.
/// </summary>
internal abstract partial class BrokerPeer
{
    /// <summary>How long a closing peer waits for its last bytes to be written before cutting the transport.</summary>
    private static readonly TimeSpan FlushGrace = TimeSpan.FromSeconds(2);

    /// <summary>How long a read loop may hold its thread without a pause before it gives the thread back once (see
    /// <see cref="EndOfTurn"/>).</summary>
    private static readonly long FairShareTicks = Stopwatch.Frequency / 500; // 2 ms

    /// <summary>A turn this long was mostly one read's work (a huge declaration, a costly request): such a loop goes on
    /// in the thread pool, where it cannot hold up the socket thread again.</summary>
    private static readonly long HeavyTurnTicks = FairShareTicks * 4;

    /// <summary>A pause between two reads longer than this means the thread was free meanwhile: a new turn starts.</summary>
    private static readonly long PauseTicks = Stopwatch.Frequency / 10_000;

    private readonly CancellationTokenSource _closing = new();
    private RouterSession? _session;
    private Identity? _identity;
    private long _lastReceived;
    private long _lastSent;
    private long _unfinishedSince;
    private long _messagesIn;
    private volatile bool _hardAborted;
    private volatile string? _stopReason;
    private bool _clean;
    private string? _abortReason;
    private int _slow;
    private int _cut;
    private long _turnStart;
    private long _lastReadEnd;

    protected BrokerPeer(Broker broker, ConnectionContext context, string id)
    {
        Broker = broker;
        Context = context;
        Id = id;
        ClientName = $"({id}, before its handshake)";
        _lastReceived = _lastSent = Time.GetTimestamp();
        _forwardRequests = AskClientAsync;
    }

    /// <summary>The connection's id in logs (<c>c12</c> binary, <c>j3</c> JSON lines).</summary>
    public string Id { get; }

    /// <summary>The name the client gave in its handshake (or its id).</summary>
    public string ClientName { get; private set; }

    /// <summary>Triggers routed from this peer.</summary>
    public long MessagesIn => Volatile.Read(ref _messagesIn);

    /// <summary>Deliveries written to this peer (one per subscription and message).</summary>
    public abstract long MessagesOut { get; }

    /// <summary>When the peer last sent anything (a timestamp of the broker's clock).</summary>
    public long LastReceived => Volatile.Read(ref _lastReceived);

    /// <summary>When the broker last wrote to the peer.</summary>
    public long LastSent => Volatile.Read(ref _lastSent);

    /// <summary>True once the peer is admitted and asked for heartbeats: the broker's heartbeat loop looks after it.</summary>
    public bool TakesHeartbeats => Volatile.Read(ref _session) is not null && WantsHeartbeats;

    protected Broker Broker { get; }

    /// <summary>The peer's IP address, for the per-address cap (null on Unix sockets and stream carriers).</summary>
    private System.Net.IPAddress? RemoteAddress => (Context.RemoteEndPoint as System.Net.IPEndPoint)?.Address;

    protected ConnectionContext Context { get; }

    /// <summary>The peer's session once admitted (null before its handshake).</summary>
    protected RouterSession? Session => Volatile.Read(ref _session);

    protected Router Router => Broker.Router;

    protected TimeProvider Time => Broker.Options.Bus.TimeProvider;

    /// <summary>Ends when the connection closes: work done for the peer stops with it.</summary>
    protected CancellationToken Closing => _closing.Token;

    /// <summary>Set by the codec's handshake: false for a JSON-lines script that cannot answer pings.</summary>
    protected bool WantsHeartbeats { get; set; } = true;

    /// <summary>Whether the codec's handshake is required before any other work (binary HELLO, an authenticating broker).</summary>
    protected abstract bool HandshakeRequired { get; }

    /// <summary>Set when a verb ended the connection (a goodbye, a refused handshake): the read loop stops.</summary>
    protected bool IsStopped => _stopReason is not null;

    /// <summary>Bytes waiting for the socket.</summary>
    public abstract int Buffered { get; }

    /// <summary>Serves the connection until it ends, then cleans up after it.</summary>
    public async Task RunAsync()
    {
        var refused = Broker.TryAdd(this, RemoteAddress);
        var writing = WriteLoopAsync();
        var reason = "closed by the client";
        using var handshake = HandshakeRequired
            ? Time.CreateTimer(static state => ((BrokerPeer)state!).OnHandshakeTimeout(), this, Broker.Options.HandshakeTimeout, Timeout.InfiniteTimeSpan)
            : null;
        try
        {
            reason = await ServeAsync(refused);
        }
        catch (HandshakeRefusedException ex)
        {
            reason = ex.Code;
            OnRefused(ex);
        }
        catch (Wire.ProtocolException ex)
        {
            reason = ex.Code;
            Broker.CountProtocolError();
            Broker.Log.ProtocolViolation(Id, ClientName, ex.Code, ex.Message);
            SendFatal(ex.Code, ex.Message);
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
            reason = _abortReason ?? "aborted";
        }
        catch (Exception ex) when (IsTransportFailure(ex))
        {
            reason = _abortReason ?? $"connection lost ({ex.GetType().Name})";
        }
        catch (Exception ex)
        {
            reason = "internal error";
            Broker.Log.ConnectionFailed(ex, Id, ClientName);
            SendFatal(ErrorCodes.InternalError, "The broker failed while handling this connection: " + ex.Message);
        }
        finally
        {
            // Cleaning up after a connection (its session, presence, wills, the graceful close) waits its turn: thousands
            // of connections ending at once must not hold the other connections on their socket thread.
            await SocketThreadYield.Yield(toThreadPool: Thread.CurrentThread.IsThreadPoolThread);
            await CloseAsync(writing, reason);
        }
    }

    private async Task<string> ServeAsync(string? refused)
    {
        if (refused is not null)
        {
            throw new HandshakeRefusedException(ErrorCodes.TooMany, refused);
        }

        if (Broker.IsShuttingDown)
        {
            throw new HandshakeRefusedException(ErrorCodes.GoingAway, "This broker is shutting down; connect to another one.");
        }

        var inputEnded = await ReadLoopAsync();
        if (inputEnded && !IsStopped)
        {
            // The client stopped sending (a script's end of input): answer what it asked before, then close.
            await WhenBackgroundDoneAsync();
        }

        return _stopReason ?? _abortReason ?? "closed by the client";
    }

    private void OnRefused(HandshakeRefusedException refusal)
    {
        if (refusal.Code == ErrorCodes.Unauthorized)
        {
            // Not a protocol error: a scanner guessing tokens is not a buggy client (the broker counted the refusal).
            Broker.Log.CredentialsRefused(Id, ClientName, refusal.Message);
        }

        SendFatal(refusal.Code, refusal.Message);
    }

    /// <summary>
    /// Lets the client in after its handshake: the broker must not be leaving and, when it checks credentials, they must
    /// pass (<see cref="Broker.AuthenticateAsync"/>; the identity's permissions then govern the connection). Throws
    /// <see cref="HandshakeRefusedException"/> otherwise.
    /// </summary>
    protected async ValueTask AdmitAsync(string client, string? credentials)
    {
        ClientName = string.IsNullOrEmpty(client) ? Id : client;
        Identity? identity = null;
        if (Broker.Authenticator is not null && !Broker.IsShuttingDown)
        {
            var certificate = Context.Features.Get<Microsoft.AspNetCore.Http.Features.ITlsConnectionFeature>()?.ClientCertificate;
            var result = await Broker.AuthenticateAsync(new AuthRequest(client, credentials, RemoteAddress, certificate), Closing);
            identity = result.Identity ?? throw new HandshakeRefusedException(ErrorCodes.Unauthorized, result.Refusal ?? "The credentials were refused.");
        }

        Admit(identity);
    }

    /// <summary>Opens the peer's session as <paramref name="identity"/> (null: a broker that checks no credentials).</summary>
    protected void Admit(Identity? identity)
    {
        if (Broker.IsShuttingDown)
        {
            throw new HandshakeRefusedException(ErrorCodes.GoingAway, "This broker is shutting down; connect to another one.");
        }

        _identity = identity;
        Volatile.Write(ref _session, Router.OpenSession(ClientName));
        Broker.Log.ClientJoined(Id, Context.RemoteEndPoint?.ToString() ?? "unix socket", identity is null ? ClientName : $"{ClientName} as {identity}");
    }

    /// <summary>Who the peer is (null when the broker checks no credentials: it may do everything).</summary>
    protected Identity? Identity => _identity;

    /// <summary>Closes the connection with <c>token_expired</c> once the credentials it was admitted with expired (checked
    /// by the broker's heartbeat loop, so within half a heartbeat interval); true if it did.</summary>
    public bool CutIfExpired()
    {
        if (_identity?.ExpiresAt is not { } expires || Time.GetUtcNow() < expires || Interlocked.Exchange(ref _cut, 1) != 0)
        {
            return false;
        }

        SendFatal(ErrorCodes.TokenExpired, $"The credentials of '{_identity.Name}' expired at {expires:u}; connect again with fresh ones.");
        Abort(ErrorCodes.TokenExpired, hard: false);
        return true;
    }

    /// <summary>Carries the connection over to a reloaded configuration: its identity's new permissions from now on; when
    /// its identity was removed, a fatal <c>identity_revoked</c> and the end of the connection (true); when the new rules
    /// refuse one of its live senders, listeners or producers, a fatal <c>forbidden</c> naming the rule, and the end.</summary>
    internal bool Reidentify(ConfiguredAuthenticator authenticator)
    {
        if (_identity is not { } current)
        {
            return false; // admitted before any check
        }

        // A live registration the new rules refuse ends the connection: a client that reconnects registers again, and
        // each refused registration then fails on its own with the rule named.
        var (next, code, why) = authenticator.Reconsider(current, FirstRefused, "this connection", "what this connection holds");
        if (next is not null)
        {
            Volatile.Write(ref _identity, next);
            return false;
        }

        if (Interlocked.Exchange(ref _cut, 1) != 0)
        {
            return false;
        }

        SendFatal(code!, why!);
        Abort(code!, hard: false);
        return true;
    }

    /// <summary>The first of this connection's live registrations that <paramref name="identity"/>'s rules refuse.</summary>
    private SwitchboardException? FirstRefused(Identity identity)
    {
        foreach (var registration in Session?.Snapshot() ?? [])
        {
            var refused = registration switch
            {
                SenderRegistration sender => identity.Rules.Sender(identity, sender.Name, sender.Info.Events),
                Listener { Kind: Listener.ResultListenerKind } results => identity.Rules.Gather(identity, results.Event!),
                Subscription listen => identity.Rules.Listen(identity, listen.Sender, listen.Event),
                ProducerRegistration producer => producer.Topics.Select(topic => identity.Rules.Produce(identity, topic)).FirstOrDefault(r => r is not null),
                _ => null,
            };
            if (refused is not null)
            {
                return refused;
            }
        }

        return null;
    }

    /// <summary>Throws <c>forbidden</c> when the identity may not listen to (sender, pattern): checked here for both
    /// codecs, after the names' own rules.</summary>
    protected void ValidateListen(string? sender, string? pattern)
    {
        Router.ValidateSubscription(sender, pattern);
        if (_identity?.Rules.Listen(_identity, sender, pattern) is { } forbidden)
        {
            throw forbidden;
        }
    }

    /// <summary>Throws <c>forbidden</c> when the identity may not listen to the results of <paramref name="topic"/>.</summary>
    protected void ValidateResults(string topic)
    {
        NameRules.ValidateTopic(topic);
        if (_identity?.Rules.Gather(_identity, topic) is { } forbidden)
        {
            throw forbidden;
        }
    }

    /// <summary>The session, which a codec asks for once its handshake is done.</summary>
    protected RouterSession Admitted => Session ?? throw new InvalidOperationException("The peer is not admitted yet.");

    /// <summary>Reads and acts on input until it ends (true) or the connection is stopped or closed (false).</summary>
    protected abstract Task<bool> ReadLoopAsync();

    /// <summary>The next batch of bytes for the transport; empty once the output is completed and drained.</summary>
    protected abstract ValueTask<ReadOnlyMemory<byte>> TakeOutputAsync();

    /// <summary>No more output: the write loop drains what is left and ends.</summary>
    protected abstract void CompleteOutput();

    /// <summary>Tells the peer something it cannot recover from (its connection ends after it).</summary>
    protected abstract void SendFatal(string code, string message);

    /// <summary>Asks the peer for a sign of life.</summary>
    public abstract void SendPing();

    /// <summary>The lame-duck notice: the broker is leaving, move elsewhere.</summary>
    public abstract void SendGoingAway(string reason);

    /// <summary>Notes input from the peer (once per read: it is only for heartbeats).</summary>
    protected void MarkReceived() => Volatile.Write(ref _lastReceived, Time.GetTimestamp());

    /// <summary>Notes, after each read, whether a frame or line is left unfinished (when it began, if so).</summary>
    protected void MarkUnfinished(bool unfinished)
    {
        if (!unfinished)
        {
            Volatile.Write(ref _unfinishedSince, 0);
        }
        else if (Volatile.Read(ref _unfinishedSince) == 0)
        {
            Volatile.Write(ref _unfinishedSince, Time.GetTimestamp());
        }
    }

    /// <summary>Cuts the peer (checked by the broker's heartbeat loop) when a frame or line it began is older than
    /// <see cref="BrokerOptions.FrameTimeout"/>; true if it did.</summary>
    public bool CutIfTrickling(long now)
    {
        var since = Volatile.Read(ref _unfinishedSince);
        if (since == 0 || Time.GetElapsedTime(since, now) <= Broker.Options.FrameTimeout || Interlocked.Exchange(ref _cut, 1) != 0)
        {
            return false;
        }

        Broker.CountFrameTimeout();
        SendFatal(ErrorCodes.FrameTimeout, $"A frame began more than {Broker.Options.FrameTimeout.TotalSeconds:0.#} s ago and is still not complete (the FrameTimeout setting).");
        Abort(ErrorCodes.FrameTimeout, hard: false);
        return true;
    }

    /// <summary>Counts triggers routed from this peer (called by its read loop only).</summary>
    protected void CountIn(int count) => _messagesIn += count;

    /// <summary>Ends the connection after its last answers: a goodbye (clean: no last wills) or a refusal.</summary>
    protected void Stop(string reason, bool clean)
    {
        if (clean)
        {
            Volatile.Write(ref _clean, true);
        }

        _stopReason ??= reason;
    }

    /// <summary>
    /// Closes the connection from outside its read loop. <paramref name="hard"/> cuts the transport at once (a peer that
    /// does not read, a dead one); otherwise what is queued is still written, for up to two seconds. Unless
    /// <paramref name="clean"/>, it counts as a death: its senders' last wills fire.
    /// </summary>
    public void Abort(string reason, bool clean = false, bool hard = true)
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
            _hardAborted = true;
            CompleteOutput();
            Context.Abort(new ConnectionAbortedException(reason));
        }
    }

    /// <summary>Called under the outbound lock when a delivery finds the buffer over its limit: the delivery is
    /// dropped, and the peer is cut or only announced, as <see cref="BrokerOptions.SlowConsumerPolicy"/> says.</summary>
    public void OnOutboundFull()
    {
        Router.Counters.AddListenerDrop();
        // A cut is told and counted once, whether the bound or the headroom (OnPastHeadroom) found it first.
        var cut = Broker.Options.SlowConsumerPolicy == SlowConsumerPolicy.Disconnect;
        if (Interlocked.Exchange(ref cut ? ref _cut : ref _slow, 1) == 0)
        {
            OnSlowConsumer(cut);
        }
    }

    /// <summary>
    /// Fairness between connections. With inline socket scheduling a read loop runs on the socket thread that received
    /// its bytes; a peer whose bytes never stop coming (a flood of requests, huge declarations) would keep that thread
    /// from every other connection on it. A turn is the time a loop has held its thread since its last pause between
    /// reads (<see cref="StartRead"/>); when a turn passes <see cref="FairShareTicks"/> the loop gives the thread back once
    /// (the caller awaits what this returns). Time, not bytes, is the measure: a byte of fan-out costs
    /// little and a byte of malformed lines much.
    /// </summary>
    protected SocketThreadYield.Awaitable? EndOfTurn()
    {
        var now = Stopwatch.GetTimestamp();
        _lastReadEnd = now;
        var turn = now - _turnStart;
        if (turn < FairShareTicks)
        {
            return null;
        }

        _lastReadEnd = 0; // the yield is a pause: the next read starts a new turn
        // A loop already in the thread pool stays there: it got there by being heavy, and the socket thread is free.
        return SocketThreadYield.Yield(toThreadPool: turn > HeavyTurnTicks || Thread.CurrentThread.IsThreadPoolThread);
    }

    /// <summary>Frames (or lines) a read loop handles between two looks at the clock (<see cref="TurnIsOver"/>).</summary>
    protected const int FramesPerClockCheck = 32;

    /// <summary>True once the current turn has held the thread for its fair share: a loop in the middle of one read's
    /// frames stops there, leaves the rest unexamined in the pipe and lets <see cref="EndOfTurn"/> give the thread back.</summary>
    protected bool TurnIsOver() => Stopwatch.GetTimestamp() - _turnStart >= FairShareTicks;

    /// <summary>Called when a read returns: a new turn starts unless the loop went straight from its last read to this one.</summary>
    protected void StartRead()
    {
        var now = Stopwatch.GetTimestamp();
        if (now - _lastReadEnd > PauseTicks)
        {
            _turnStart = now;
        }
    }

    /// <summary>An event or gather result was larger than this peer accepts (its handshake said so) and was not sent: it
    /// counts as a drop for the listener and in <see cref="Broker.TooLargeForPeer"/>.</summary>
    public void OnTooLargeForPeer()
    {
        Router.Counters.AddListenerDrop();
        Broker.CountTooLargeForPeer();
    }

    /// <summary>Called under the outbound lock when an answer or a control frame finds the peer owed twice its bound
    /// (deliveries stop at the bound): an answer cannot be dropped, so the peer is cut whatever the policy.</summary>
    protected void OnPastHeadroom()
    {
        if (Interlocked.Exchange(ref _cut, 1) == 0)
        {
            OnSlowConsumer(cut: true);
        }
    }

    private void OnSlowConsumer(bool cut)
    {
        // Off the lock: the notice is a trigger of its own, and the abort closes the transport.
        ThreadPool.QueueUserWorkItem(static state =>
        {
            var (peer, bytes, cut) = state;
            peer.Broker.OnSlowConsumer(peer, bytes, cut);
            if (cut)
            {
                peer.Abort("slow_consumer");
            }
        }, (this, (long)Buffered, cut), preferLocal: false);
    }

    private void OnHandshakeTimeout()
    {
        if (Session is null)
        {
            SendFatal(ErrorCodes.HandshakeTimeout, HandshakeTimeoutMessage);
            Abort("no handshake", hard: false);
        }
    }

    /// <summary>What a peer that did not shake hands in time is told.</summary>
    protected abstract string HandshakeTimeoutMessage { get; }

    private async Task WriteLoopAsync()
    {
        var output = Context.Transport.Output;
        try
        {
            while (true)
            {
                var batch = await TakeOutputAsync();
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
        catch (Exception ex) when (IsTransportFailure(ex) || ex is OperationCanceledException)
        {
            Abort("write failed");
        }
    }

    private async Task CloseAsync(Task writing, string reason)
    {
        Broker.Remove(this, RemoteAddress);
        EndRequests();
        if (Session is { } session)
        {
            // Only a goodbye (or the broker leaving after its notice) is a clean close: a connection that just ends
            // fires its senders' last wills.
            await Router.CloseSessionAsync(session, clean: Volatile.Read(ref _clean));
        }

        CompleteOutput();
        var flushed = await Task.WhenAny(writing, Task.Delay(FlushGrace, Time)) == writing;
        if (flushed && !_hardAborted)
        {
            await CloseGracefullyAsync();
        }
        else
        {
            Context.Abort();
        }

        await _closing.CancelAsync();
        DisposeLimits();
        OnClosed();
        Broker.Log.ClientLeft(Id, ClientName, reason);
    }

    /// <summary>Releases what the codec holds once the connection is over.</summary>
    protected virtual void OnClosed()
    {
    }

    /// <summary>
    /// Sends FIN after the last bytes (a fatal error must reach the peer), then reads and discards what the peer still
    /// sends for a moment: closing with unread input would make the kernel send RST, and the peer could lose the error.
    /// </summary>
    private async Task CloseGracefullyAsync()
    {
        try
        {
            await Context.Transport.Output.CompleteAsync();
            using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(1), Time);
            var input = Context.Transport.Input;
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
            Context.Abort();
        }
    }

    private static bool IsTransportFailure(Exception ex) =>
        ex is IOException or System.Net.WebSockets.WebSocketException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException;
}
