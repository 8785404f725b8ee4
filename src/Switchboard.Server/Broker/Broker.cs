using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Switchboard.Routing;
using Switchboard.Server.Security;

namespace Switchboard.Server;

/// <summary>
/// The broker: the same <see cref="Router"/> that <see cref="LocalBus"/> wraps, with one session per network
/// connection. One heartbeat loop serves every connection (on the injected clock). Shutting down is a lame-duck
/// notice first, so clients move elsewhere before their connections close.
/// </summary>
public sealed class Broker : IAsyncDisposable
{
    /// <summary>The sender the broker itself uses for bus-wide notices (<c>#slow_consumer</c>, <c>#lame_duck</c>).</summary>
    public const string SystemSender = "switchboard";

    /// <summary>The events only <see cref="SystemSender"/> may raise: no client can declare them or trigger them
    /// through a pattern, so nobody can fake the broker's alerts.</summary>
    public static readonly IReadOnlyList<string> SystemEvents = ["#slow_consumer", "#lame_duck"];

    private readonly ConcurrentDictionary<BrokerPeer, byte> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly LocalBus _bus;
    private Task _heartbeats = Task.CompletedTask;
    private ISender? _system;
    private long _slowConsumers;
    private long _heartbeatTimeouts;
    private long _frameTimeouts;
    private long _tooLargeForPeer;
    private long _connectionsRefused;
    private readonly ConcurrentDictionary<System.Net.IPAddress, int> _perAddress = new();
    private long _protocolErrors;
    private long _closedMessagesIn;
    private long _closedMessagesOut;
    private int _disposed;
    private volatile bool _shuttingDown;

    /// <summary>Creates a broker; <see cref="StartAsync"/> starts its heartbeat loop.</summary>
    public Broker(BrokerOptions? options = null)
    {
        Options = options ?? new BrokerOptions();
        Router = new Router(Options.Bus);
        _bus = LocalBus.Over(Router);
        Log = Options.Bus.LoggerFactory.CreateLogger("Switchboard.Broker");
        _authenticator = Options.Authenticator
            ?? (Options.Security.HasIdentities || Options.Security.Anonymous is not null ? new ConfiguredAuthenticator(Options.Security) : null)
            ?? (Options.Authenticate is { } check ? new CallbackAuthenticator(check) : (IAuthenticator?)null);
        Throttle = new AuthThrottle(Options.Security.AuthFailureBurst, Options.Security.AuthFailureRefill);
        Router.ReserveSystemEvents(SystemSender, SystemEvents);
    }

    private volatile IAuthenticator? _authenticator;

    /// <summary>Who decides clients' identities; null: nobody is asked, every client may do everything.</summary>
    internal IAuthenticator? Authenticator => _authenticator;

    /// <summary>
    /// Replaces the configured identities and permissions without a restart (<c>serve --config</c> calls it when the
    /// file changes or on SIGHUP). The new settings are checked whole first: an invalid one throws
    /// <see cref="SwitchboardException"/> (<c>invalid_argument</c>, naming the problem) and the old one stays. Then new
    /// connections are checked against it, a live connection whose identity is gone is closed with
    /// <c>identity_revoked</c>, one holding a sender, listener or producer the new rules refuse is closed with a fatal
    /// <c>forbidden</c> naming the rule, and the others get their identity's new permissions for their next operation. JWT
    /// connections keep the permissions their token carries. Only a broker built from <see cref="BrokerOptions.Security"/>
    /// can be reloaded, and a reload cannot turn credentials off.
    /// </summary>
    /// <param name="security">The new settings: identities, permissions and browser rules (TLS certificate files are
    /// re-read on their own; the TLS mode is not reloaded).</param>
    /// <returns>How many live connections were closed (identity removed, or a registration refused).</returns>
    public int Reload(SecurityOptions security)
    {
        ArgumentNullException.ThrowIfNull(security);
        if (_authenticator is not ConfiguredAuthenticator)
        {
            throw new InvalidOperationException("Only a broker whose identities come from BrokerOptions.Security can reload them: one started without identities admitted its connections unchecked, and one with its own authenticator owns them; restart it to change that.");
        }

        if (!security.HasIdentities && security.Anonymous is null)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, "The new configuration has no identities and no Anonymous permissions; a reload cannot turn credentials off (restart the broker for that).");
        }

        var next = new ConfiguredAuthenticator(security);
        _ = Http.BrowserGuard.Rules.Compile(security.Browser); // checked whole before anything changes
        _authenticator = next;
        var revoked = 0;
        foreach (var connection in _connections.Keys)
        {
            revoked += connection.Reidentify(next) ? 1 : 0;
        }

        SecurityReloaded?.Invoke(next, security);
        Log.SecurityReloaded(next.Describe(), revoked);
        return revoked;
    }

    /// <summary>Raised by <see cref="Reload"/> after the connections were carried over: what holds identities outside
    /// them (the HTTP gateway's SSE streams) carries its own over, and the browser rules are swapped.</summary>
    internal event Action<ConfiguredAuthenticator, SecurityOptions>? SecurityReloaded;

    private AuthThrottle Throttle { get; }

    /// <summary>What protects this broker, in one line (<c>serve</c> prints it).</summary>
    public string DescribeSecurity() => Authenticator switch
    {
        null => "no identities: every client may do everything",
        ConfiguredAuthenticator configured => configured.Describe(),
        _ => "a custom authenticator",
    };

    /// <summary>Asks the authenticator about a client, refusing at once an address that failed too often lately (counted,
    /// either way, in <see cref="AuthRefusals"/>). Every surface comes here.</summary>
    internal async ValueTask<AuthResult> AuthenticateAsync(AuthRequest request, CancellationToken cancellationToken)
    {
        var authenticator = Authenticator ?? throw new InvalidOperationException("This broker checks no credentials.");
        if (Throttle.Refusal(request.RemoteAddress) is { } slowed)
        {
            CountAuthRefusal();
            return AuthResult.Refuse(slowed);
        }

        var result = await authenticator.AuthenticateAsync(request, cancellationToken);
        if (result.Identity is null)
        {
            CountAuthRefusal();
            if (!string.IsNullOrEmpty(request.Credentials))
            {
                // Only a wrong guess costs the address: a first call without credentials (a browser before its login
                // prompt, a script that forgot them) guesses nothing.
                Throttle.Failed(request.RemoteAddress);
            }
        }

        return result;
    }

    /// <summary>The settings.</summary>
    public BrokerOptions Options { get; }

    /// <summary>An in-process participant on the broker's bus: senders and listeners registered here meet the network clients.</summary>
    public IBus Bus => _bus;

    /// <summary>Connections open now, of every protocol (binary over any carrier, JSON lines).</summary>
    public int ConnectionCount => _connections.Count;

    /// <summary>Requests between clients relayed by the broker and not answered yet (each ends by its reply, its
    /// timeout, or either client leaving).</summary>
    public int RelayedRequestsPending => _connections.Keys.Sum(c => c.ForwardedCount);

    /// <summary>Connections cut as slow consumers.</summary>
    public long SlowConsumers => Interlocked.Read(ref _slowConsumers);

    /// <summary>Connections closed because their heartbeats stopped.</summary>
    public long HeartbeatTimeouts => Interlocked.Read(ref _heartbeatTimeouts);

    /// <summary>Connections cut because a frame or line they began did not complete in time (<see cref="BrokerOptions.FrameTimeout"/>).</summary>
    public long FrameTimeouts => Interlocked.Read(ref _frameTimeouts);

    /// <summary>Frames not sent because they were larger than their peer said it accepts (events dropped for it, gather
    /// results it could not take); answers and sender lists too large are answered with an error instead.</summary>
    public long TooLargeForPeer => Interlocked.Read(ref _tooLargeForPeer);

    /// <summary>Connections closed for breaking the protocol.</summary>
    public long ProtocolErrors => Interlocked.Read(ref _protocolErrors);

    private long _authRefusals;

    /// <summary>True once a lame-duck shutdown or disposal began: new connections are refused.</summary>
    public bool IsShuttingDown => _shuttingDown;

    internal Router Router { get; }

    /// <summary>Set by a cluster node (src/Switchboard.Redis): why this broker is unhealthy now, or null; <c>/healthz</c>
    /// answers 503 with it. The broker still serves its clients meanwhile.</summary>
    internal Func<string?>? HealthProblem { get; set; }

    /// <summary>Set by a cluster node: writes its own families at the end of <c>GET /metrics</c>.</summary>
    internal Action<Http.PrometheusText>? ExtraMetrics { get; set; }

    internal ILogger Log { get; }

    internal CancellationToken Stopping => _stopping.Token;

    /// <summary>Registers the broker's own sender and starts the heartbeat loop.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        _system = await _bus.AddSenderAsync(SystemSender, ["#slow_consumer", "#lame_duck"], cancellationToken: cancellationToken);
        _heartbeats = RunHeartbeatsAsync();
    }

    /// <summary>Takes a new connection in, or says why not (the caps on connections in all and per address).</summary>
    internal string? TryAdd(BrokerPeer connection, System.Net.IPAddress? address)
    {
        if (_connections.Count >= Options.MaxConnections)
        {
            Interlocked.Increment(ref _connectionsRefused);
            return $"This broker already has {_connections.Count} connections open, the most BrokerOptions.MaxConnections allows; try later or another broker.";
        }

        if (address is not null && _perAddress.AddOrUpdate(address, 1, static (_, count) => count + 1) > Options.MaxConnectionsPerAddress)
        {
            Release(address);
            Interlocked.Increment(ref _connectionsRefused);
            return $"{address} already has {Options.MaxConnectionsPerAddress} connections open to this broker, the most BrokerOptions.MaxConnectionsPerAddress allows; close some first.";
        }

        _connections.TryAdd(connection, 0);
        return null;
    }

    private void Release(System.Net.IPAddress address)
    {
        // Drop the entry at zero, so an address that left costs nothing (a removal that races an add re-creates it).
        if (_perAddress.AddOrUpdate(address, 0, static (_, count) => count - 1) <= 0)
        {
            _perAddress.TryRemove(new KeyValuePair<System.Net.IPAddress, int>(address, 0));
        }
    }

    /// <summary>Connections refused for the caps on connections (in all, or from one address).</summary>
    public long ConnectionsRefused => Interlocked.Read(ref _connectionsRefused);

    internal void Remove(BrokerPeer connection, System.Net.IPAddress? address)
    {
        if (_connections.TryRemove(connection, out _))
        {
            Interlocked.Add(ref _closedMessagesIn, connection.MessagesIn);
            Interlocked.Add(ref _closedMessagesOut, connection.MessagesOut);
            if (address is not null)
            {
                Release(address);
            }
        }

        if (connection.AskedCount > 0)
        {
            foreach (var answerer in _connections.Keys)
            {
                if (answerer.ForwardedCount > 0)
                {
                    answerer.DropRequestsFrom(connection);
                }
            }
        }
    }

    /// <summary>Messages triggered by the broker's clients, of every protocol (every connection, open or closed).</summary>
    public long MessagesIn => Interlocked.Read(ref _closedMessagesIn) + _connections.Keys.Sum(c => c.MessagesIn);

    /// <summary>Messages delivered to the broker's clients, of every protocol (one per subscription and message).</summary>
    public long MessagesOut => Interlocked.Read(ref _closedMessagesOut) + _connections.Keys.Sum(c => c.MessagesOut);

    internal void CountFrameTimeout() => Interlocked.Increment(ref _frameTimeouts);

    internal void CountTooLargeForPeer() => Interlocked.Increment(ref _tooLargeForPeer);

    internal void CountProtocolError() => Interlocked.Increment(ref _protocolErrors);

    /// <summary>Connections and HTTP calls refused for their credentials (or because their address failed too often
    /// lately), on every surface; not counted as protocol errors.</summary>
    public long AuthRefusals => Interlocked.Read(ref _authRefusals);

    internal void CountAuthRefusal() => Interlocked.Increment(ref _authRefusals);

    /// <summary>A peer fell behind: counted, logged and announced on <c>#slow_consumer</c>; <paramref name="cut"/> says
    /// whether it is being disconnected (the policy, or answers past the headroom) or only loses deliveries.</summary>
    internal void OnSlowConsumer(BrokerPeer connection, long buffered, bool cut)
    {
        Interlocked.Increment(ref _slowConsumers);
        var policy = cut ? SlowConsumerPolicy.Disconnect : SlowConsumerPolicy.DropNewest;
        Log.SlowConsumer(connection.Id, connection.ClientName, buffered, Options.MaxOutboundBytes, policy);
        var notice = Payload.Utf8($$"""{"connection":"{{connection.Id}}","client":"{{System.Text.Encodings.Web.JavaScriptEncoder.Default.Encode(connection.ClientName)}}","buffered":{{buffered}},"limit":{{Options.MaxOutboundBytes}},"policy":"{{(cut ? "disconnect" : "drop_newest")}}"}""");
        if (_system is { } system)
        {
            _ = system.TriggerAsync("#slow_consumer", notice).AsTask();
        }
    }

    /// <summary>One loop for all connections: ping the idle ones, close the silent ones.</summary>
    private async Task RunHeartbeatsAsync()
    {
        var time = Options.Bus.TimeProvider;
        var interval = Options.HeartbeatInterval;
        using var timer = new PeriodicTimer(interval / 2, time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                var now = time.GetTimestamp();
                foreach (var connection in _connections.Keys)
                {
                    if (connection.CutIfTrickling(now) || connection.CutIfExpired())
                    {
                        continue;
                    }

                    if (!connection.TakesHeartbeats)
                    {
                        continue; // before its handshake the handshake timeout looks after it; a script cannot answer
                    }

                    var silence = time.GetElapsedTime(connection.LastReceived, time.GetTimestamp());
                    if (silence > interval * Options.HeartbeatMisses)
                    {
                        Interlocked.Increment(ref _heartbeatTimeouts);
                        Log.HeartbeatMissed(connection.Id, connection.ClientName, (long)silence.TotalMilliseconds);
                        connection.Abort("heartbeat_timeout");
                    }
                    else if (time.GetElapsedTime(connection.LastReceived, now) >= interval / 2)
                    {
                        // Ask for a sign of life whenever the peer has been quiet, however much we send it: a subscriber
                        // that only receives must still be able to prove it is alive by answering.
                        connection.SendPing();
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Counters of the broker's router (drops, late results, corrupt frames on lossy carriers).</summary>
    public BusCounters Counters => Router.Counters;

    /// <summary>
    /// Serves one client over a duplex stream (a serial port) until it closes. With
    /// <paramref name="lossy"/>, a frame that fails its CRC-32C is dropped and counted rather than closing the link.
    /// </summary>
    /// <param name="name">A name for logs.</param>
    /// <param name="stream">The carrier.</param>
    /// <param name="lossy">The carrier can corrupt bytes.</param>
    public Task ServeAsync(string name, Stream stream, bool lossy = true) => ServeAsync(name, stream, lossy, endOutput: null);

    /// <summary>Serves one client over a duplex stream whose end of output (after the broker's last frame, such as a
    /// fatal ERROR) is <paramref name="endOutput"/>: a WebSocket's close frame, so the peer reads a clean close; a
    /// WebSocket's HTTP connection is the <paramref name="carrier"/> (its address and client certificate).</summary>
    internal async Task ServeAsync(string name, Stream stream, bool lossy, Func<CancellationToken, Task>? endOutput, Microsoft.AspNetCore.Http.ConnectionInfo? carrier = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        await using var context = new StreamConnectionContext(name, stream, endOutput, carrier);
        await new BinaryPeer(this, context, lossy).RunAsync();
    }

    /// <summary>Tells every client the broker is going away, then waits up to <see cref="BrokerOptions.LameDuckGrace"/> for them to leave.</summary>
    public async Task LameDuckAsync(string reason = "shutting down", CancellationToken cancellationToken = default)
    {
        _shuttingDown = true;
        var connections = _connections.Keys.ToList();
        Log.LameDuck(connections.Count);
        foreach (var connection in connections)
        {
            connection.SendGoingAway(reason);
        }

        var deadline = Options.Bus.TimeProvider.GetTimestamp();
        while (!_connections.IsEmpty && Options.Bus.TimeProvider.GetElapsedTime(deadline) < Options.LameDuckGrace)
        {
            await Task.Delay(20, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // After a lame-duck notice, clients that stayed are closed cleanly: the broker is leaving, they are not dying.
        var clean = _shuttingDown;

        // Refuse handshakes from here on: a client whose connection is closed below reconnects at once, and a broker
        // that welcomed it while going away would swallow what it sends next.
        _shuttingDown = true;
        await _stopping.CancelAsync();
        await _heartbeats;
        foreach (var connection in _connections.Keys)
        {
            connection.Abort("broker stopped", clean);
        }

        await _bus.DisposeAsync();
        await Router.DisposeAsync();
        Throttle.Dispose();
        _stopping.Dispose();
    }
}
