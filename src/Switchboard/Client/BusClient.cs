using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Switchboard.Client;
using Switchboard.Routing;
using Switchboard.Wire;

namespace Switchboard;

/// <summary>
/// A bus connected to a broker: the same <see cref="IBus"/> as <see cref="LocalBus"/>, over the binary protocol on
/// TCP or a Unix socket. It reconnects by itself (back-off with jitter, over every address given), registers its
/// senders, listeners and producers again, and then sends what it buffered while away (bounded; overflow counted).
/// Split by concern: <c>BusClient.Connection.cs</c> (sockets, loops, heartbeats), <c>BusClient.Reconnect.cs</c>,
/// <c>BusClient.Frames.cs</c> (what the broker sends).
/// </summary>
public sealed partial class BusClient : IBus
{
    private readonly BusClientOptions _options;
    private readonly BusAddress[] _addresses;
    private readonly FrameWriter _out;
    private readonly Lock _state = new();
    private readonly List<ClientRegistration> _registrations = [];
    private readonly ConcurrentDictionary<uint, ClientListener> _listeners = new();
    private readonly ConcurrentDictionary<string, ClientSender> _senders = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<uint, IPendingCall> _pending = new();
    private readonly Dictionary<uint, List<SenderInfo>> _senderPages = []; // read loop only: sender lists still arriving
    private readonly ConcurrentDictionary<uint, ClientGather> _gathers = new();
    private readonly CancellationTokenSource _disposing = new();
    private readonly ConcurrentDictionary<Task, string> _background = new();
    private readonly ILogger _log;
    private readonly bool _crc;
    private int _nextId;
    private int _disposed;
    private int _started;

    private BusClient(BusAddress[] addresses, BusClientOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxFrameSize, Protocol.MinPeerMaxFrameSize, "options.MaxFrameSize");
        _addresses = addresses;
        _options = options;
        _crc = options.Crc || addresses.Any(a => a.IsLossy);
        _out = new FrameWriter(options.OfflineBufferBytes) { Crc = _crc };
        _log = options.Bus.LoggerFactory.CreateLogger("Switchboard.BusClient");
    }

    /// <summary>Raised when the first connection is made and what was registered before it is confirmed. Subscribe
    /// before <see cref="ConnectAsync(CancellationToken)"/> on a client made with a constructor.</summary>
    public event EventHandler<ConnectionEventArgs>? Connected;

    /// <summary>Raised when the connection is lost (the client then reconnects by itself); <see cref="ConnectionEventArgs.Loss"/>
    /// tells a broker that shut down cleanly from one that crashed.</summary>
    public event EventHandler<ConnectionEventArgs>? Disconnected;

    /// <summary>Raised when a lost connection is back and the broker has confirmed every registration made again, so
    /// other clients asking the broker now see them.</summary>
    public event EventHandler<ConnectionEventArgs>? Reconnected;

    /// <summary>Raised for an error the broker sent that answers no call of this client (a refused trigger, a failed re-registration).</summary>
    public event EventHandler<SwitchboardException>? Error;

    /// <inheritdoc />
    public BusCounters Counters { get; } = new();

    /// <summary>True while connected to a broker.</summary>
    public bool IsConnected => Volatile.Read(ref _connection) is not null;

    /// <summary>The address of the broker connected to, or null.</summary>
    public string? ConnectedAddress => Volatile.Read(ref _connection)?.Address.Text;

    /// <summary>A client of a broker (<c>sb://HOST:PORT</c>, <c>sb+unix:///PATH</c>, <c>ws://HOST:PORT/ws</c>), not yet
    /// connected: subscribe to <see cref="Connected"/> and the other events, then call <see cref="ConnectAsync(CancellationToken)"/>.</summary>
    /// <param name="address">The broker's address.</param>
    /// <param name="options">Client settings.</param>
    public BusClient(string address, BusClientOptions? options = null)
        : this([BusAddress.Parse(address)], options ?? new BusClientOptions())
    {
    }

    /// <summary>A client of the first reachable of several brokers, not yet connected; later reconnects try them all, shuffled.</summary>
    /// <param name="addresses">The brokers' addresses.</param>
    /// <param name="options">Client settings.</param>
    public BusClient(IReadOnlyList<string> addresses, BusClientOptions? options = null)
        : this(ParseAll(addresses), options ?? new BusClientOptions())
    {
    }

    /// <summary>A client over any carrier (<see cref="BusAddress.Serial"/>, <see cref="BusAddress.FromStream"/>), not yet connected.</summary>
    /// <param name="address">The carrier.</param>
    /// <param name="options">Client settings.</param>
    public BusClient(BusAddress address, BusClientOptions? options = null)
        : this([address ?? throw new ArgumentNullException(nameof(address))], options ?? new BusClientOptions())
    {
    }

    /// <summary>Makes the first connection and raises <see cref="Connected"/>. Fails with <c>connect_failed</c> when no
    /// broker is reachable, unless <see cref="BusClientOptions.RetryInitialConnect"/> is set: then it returns and the
    /// client keeps trying in the background, buffering what is registered and triggered meanwhile.</summary>
    /// <param name="cancellationToken">Abandons connecting.</param>
    public Task ConnectAsync(CancellationToken cancellationToken = default) => StartAsync(cancellationToken);

    /// <summary>Connects to a broker (<c>sb://HOST:PORT</c> or <c>sb+unix:///PATH</c>).</summary>
    /// <param name="address">The broker's address.</param>
    /// <param name="options">Client settings.</param>
    /// <param name="cancellationToken">Abandons connecting.</param>
    public static Task<BusClient> ConnectAsync(string address, BusClientOptions? options = null, CancellationToken cancellationToken = default) =>
        ConnectAsync([address], options, cancellationToken);

    /// <summary>Connects to a broker over any carrier (<see cref="BusAddress.Serial"/>, <see cref="BusAddress.FromStream"/>).</summary>
    /// <param name="address">The carrier.</param>
    /// <param name="options">Client settings.</param>
    /// <param name="cancellationToken">Abandons connecting.</param>
    public static Task<BusClient> ConnectAsync(BusAddress address, BusClientOptions? options = null, CancellationToken cancellationToken = default) =>
        ConnectedAsync(new BusClient(address, options), cancellationToken);

    /// <summary>Connects to the first reachable of several brokers; later reconnects try them all, shuffled.</summary>
    /// <param name="addresses">The brokers' addresses.</param>
    /// <param name="options">Client settings.</param>
    /// <param name="cancellationToken">Abandons connecting.</param>
    public static Task<BusClient> ConnectAsync(IReadOnlyList<string> addresses, BusClientOptions? options = null, CancellationToken cancellationToken = default) =>
        ConnectedAsync(new BusClient(addresses, options), cancellationToken);

    private static async Task<BusClient> ConnectedAsync(BusClient client, CancellationToken cancellationToken)
    {
        try
        {
            await client.StartAsync(cancellationToken);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }

        return client;
    }

    private static BusAddress[] ParseAll(IReadOnlyList<string> addresses)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        if (addresses.Count == 0)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, "Give at least one broker address.");
        }

        return [.. addresses.Select(BusAddress.Parse)];
    }

    private uint NextId()
    {
        var id = (uint)Interlocked.Increment(ref _nextId);
        return id == 0 ? NextId() : id;
    }

    /// <inheritdoc />
    public async ValueTask<ISender> AddSenderAsync(string name, IReadOnlyList<string> events, Dictionary<string, RequestHandler>? requests = null, SenderOptions? options = null, CancellationToken cancellationToken = default)
    {
        requests ??= [];
        options ??= new SenderOptions();
        var declared = Router.ValidateSender(name, events, requests.Keys, options);
        var sender = new ClientSender(this, name, declared, requests, options);
        if (!_senders.TryAdd(name, sender))
        {
            throw new SwitchboardException(ErrorCodes.SenderExists, $"The sender name '{name}' is already taken on this bus; sender names are unique across the whole bus. Pick another name or remove the other sender first.");
        }

        await RegisterAsync(sender, cancellationToken);
        return sender;
    }

    /// <inheritdoc />
    public async ValueTask<IListener> ListenAsync(string? sender, string? @event, MessageHandler handler, ListenerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return await AddListenerAsync(sender, @event, handler, options, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<IListenerQueue> ListenAsync(string? sender, string? @event, ListenerOptions? options = null, CancellationToken cancellationToken = default) =>
        await AddListenerAsync(sender, @event, null, options, cancellationToken);

    /// <inheritdoc />
    public async ValueTask<IListener> ListenAsync(string? sender, EventPatterns events, MessageHandler handler, ListenerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return await AddListenerAsync(sender, events.ToArray(), handler, options, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<IListenerQueue> ListenAsync(string? sender, EventPatterns events, ListenerOptions? options = null, CancellationToken cancellationToken = default) =>
        await AddListenerAsync(sender, events.ToArray(), null, options, cancellationToken);

    /// <summary>One listener for several patterns: one subscription on the broker per pattern, all delivering into it.</summary>
    private async ValueTask<Listener> AddListenerAsync(string? sender, string[] events, MessageHandler? handler, ListenerOptions? options, CancellationToken cancellationToken)
    {
        var patterns = Router.ValidateSubscriptions(sender, events);
        if (patterns.Length == 1)
        {
            return await AddListenerAsync(sender, patterns[0], handler, options, cancellationToken);
        }

        options ??= _options.Bus.DefaultListenerOptions;
        options.Validate();
        var listener = new Listener(Counters, _log, sender, patterns[0], handler, options) { OffDeliveringThread = true, Patterns = patterns };
        var registrations = Array.ConvertAll(patterns, pattern => new ClientListener(NextId(), listener, null, options.ReceiveRetained, pattern));
        listener.Unregister = async _ =>
        {
            foreach (var registration in registrations)
            {
                await RemoveAsync(registration);
            }
        };
        try
        {
            foreach (var registration in registrations)
            {
                await RegisterAsync(registration, cancellationToken);
            }
        }
        catch
        {
            await listener.CloseAsync(null);
            throw;
        }

        return listener;
    }

    private async ValueTask<Listener> AddListenerAsync(string? sender, string? @event, MessageHandler? handler, ListenerOptions? options, CancellationToken cancellationToken)
    {
        Router.ValidateSubscription(sender, @event);
        options ??= _options.Bus.DefaultListenerOptions;
        options.Validate();
        var listener = new Listener(Counters, _log, sender, @event, handler, options) { OffDeliveringThread = true };
        var registration = new ClientListener(NextId(), listener, null, options.ReceiveRetained);
        listener.Unregister = _ => RemoveAsync(registration);
        await RegisterAsync(registration, cancellationToken);
        return listener;
    }

    /// <inheritdoc />
    public async ValueTask<IListener> ListenResultsAsync(string topic, MessageHandler handler, ListenerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        NameRules.ValidateTopic(topic);
        options ??= _options.Bus.DefaultListenerOptions;
        options.Validate();
        var listener = new Listener(Counters, _log, null, topic, handler, options, Listener.ResultListenerKind) { OffDeliveringThread = true };
        var registration = new ClientListener(NextId(), listener, topic, retained: false);
        listener.Unregister = _ => RemoveAsync(registration);
        await RegisterAsync(registration, cancellationToken);
        return listener;
    }

    /// <inheritdoc />
    public async ValueTask<IProducer> AddProducerAsync(IReadOnlyList<string> topics, ProducerHandler handler, ProducerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options = Router.ValidateProducer(topics, handler, options);

        var producer = new ClientProducer(this, options.Name, options.Group, [.. topics.Distinct()], handler);
        await RegisterAsync(producer, cancellationToken);
        return producer;
    }

    /// <inheritdoc />
    public ValueTask<Payload> RequestAsync(string sender, string request, Payload data = default, TimeSpan? timeout = null, MessageHeaders? headers = null, CancellationToken cancellationToken = default) =>
        SwitchboardTelemetry.RequestObserved
            ? ObservedRequestAsync(sender, request, data, timeout, headers, cancellationToken)
            : AskAsync(sender, request, data, timeout, headers, cancellationToken);

    // Apart, so the closure is made only for a request someone observes.
    private ValueTask<Payload> ObservedRequestAsync(string sender, string request, Payload data, TimeSpan? timeout, MessageHeaders? headers, CancellationToken cancellationToken) =>
        SwitchboardTelemetry.ObserveRequestAsync(sender, request, headers, traced => AskAsync(sender, request, data, timeout, traced, cancellationToken));

    private async ValueTask<Payload> AskAsync(string sender, string request, Payload data, TimeSpan? timeout, MessageHeaders? headers, CancellationToken cancellationToken)
    {
        NameRules.ValidateSender(sender);
        NameRules.ValidateRequest(request);
        var wait = timeout ?? _options.Bus.DefaultRequestTimeout;
        if (wait <= TimeSpan.Zero)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"The request timeout is {wait}; it must be positive.");
        }

        if (wait > Routing.Router.MaxRequestTimeout)
        {
            wait = Routing.Router.MaxRequestTimeout; // as the router does
        }

        var id = NextId();
        var call = new RequestCall(sender, request);
        _pending[id] = call;
        try
        {
            Send(output => Frames.Request(output, _crc, id, sender, request, (uint)Math.Ceiling(wait.TotalMilliseconds), headers, data));
            // The broker enforces the timeout and answers "timeout"; the extra second covers a broker that cannot answer at all.
            var backstop = wait + TimeSpan.FromSeconds(1);
            var answer = await call.Task.WaitAsync(backstop > Routing.Router.MaxRequestTimeout ? Routing.Router.MaxRequestTimeout : backstop, _options.Bus.TimeProvider, cancellationToken);
            return (Payload)answer!;
        }
        catch (TimeoutException ex)
        {
            throw new RequestFailedException(ErrorCodes.Timeout, sender, request, $"Sender '{sender}' did not answer '{request}' within {wait.TotalMilliseconds:0.###} ms.", ex);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <inheritdoc />
    public GatherCall GatherAsync(string topic, Payload data, TimeSpan ttl, MessageHeaders? headers = null, CancellationToken cancellationToken = default) =>
        SwitchboardTelemetry.GatherObserved
            ? ObservedGather(topic, data, ttl, headers, cancellationToken)
            : StartGather(topic, data, ttl, headers, cancellationToken);

    // Apart, so the closure is made only for a gather someone observes.
    private GatherCall ObservedGather(string topic, Payload data, TimeSpan ttl, MessageHeaders? headers, CancellationToken cancellationToken) =>
        SwitchboardTelemetry.ObserveGather(topic, headers, traced => StartGather(topic, data, ttl, traced, cancellationToken));

    private GatherCall StartGather(string topic, Payload data, TimeSpan ttl, MessageHeaders? headers, CancellationToken cancellationToken)
    {
        NameRules.ValidateTopic(topic);
        if (ttl <= TimeSpan.Zero)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"The gather ttl is {ttl}; it must be positive.");
        }

        var id = NextId();
        var gather = new ClientGather(new GatherCall(topic));
        _gathers[id] = gather;
        _pending[id] = gather;
        gather.Cancellation = cancellationToken.Register(static state => ((ClientGather)state!).Finish(canceled: true), gather);
        Send(output => Frames.Gather(output, _crc, id, topic, (uint)Math.Ceiling(ttl.TotalMilliseconds), headers, data));
        Track(ForgetLaterAsync(id, gather, ttl), "gather bookkeeping");
        return gather.Call;
    }

    /// <summary>Ends a gather the broker never finished (connection trouble) and, later, stops tracking late results.</summary>
    private async Task ForgetLaterAsync(uint id, ClientGather gather, TimeSpan ttl)
    {
        try
        {
            await Task.Delay(ttl + TimeSpan.FromSeconds(10), _options.Bus.TimeProvider, _disposing.Token);
            gather.Finish(canceled: true);
            await Task.Delay(TimeSpan.FromSeconds(30), _options.Bus.TimeProvider, _disposing.Token);
        }
        catch (OperationCanceledException)
        {
            gather.Finish(canceled: true);
        }
        finally
        {
            _gathers.TryRemove(id, out _);
            _pending.TryRemove(id, out _);
        }
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SenderInfo>> GetSendersAsync(CancellationToken cancellationToken = default) =>
        (IReadOnlyList<SenderInfo>)(await CallAsync(FrameType.ListSenders, cancellationToken))!;

    /// <inheritdoc />
    /// <remarks>Completes when the broker has processed every frame this client sent before it.</remarks>
    public async ValueTask FlushAsync(CancellationToken cancellationToken = default) =>
        await CallAsync(FrameType.Flush, cancellationToken);

    private Task<object?> CallAsync(FrameType type, CancellationToken cancellationToken) =>
        CallAsync((output, id) => Frames.Correlated(output, _crc, type, id), cancellationToken);

    /// <summary>Sends a frame answered on a correlation id (written by <paramref name="write"/>) and waits for the answer.</summary>
    private async Task<object?> CallAsync(Action<System.Buffers.IBufferWriter<byte>, uint> write, CancellationToken cancellationToken)
    {
        var id = NextId();
        var call = new PendingCall();
        _pending[id] = call;
        try
        {
            Send(output => write(output, id));
            return await call.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Adds a registration to the client's state and, when connected, sends it; waits for the broker's answer.</summary>
    private async Task RegisterAsync(ClientRegistration registration, CancellationToken cancellationToken)
    {
        var correlation = NextId();
        lock (_state)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            _registrations.Add(registration);
            if (registration is ClientListener listener)
            {
                _listeners[listener.Id] = listener;
            }

            if (_connection is null)
            {
                // Offline work is buffered: the registration is sent, and confirmed, when the connection is (back) up.
                registration.Buffered = true;
                return;
            }

            _pending[correlation] = registration;
            Send(output => registration.WriteRegistration(output, _crc, correlation));
        }

        try
        {
            await registration.Registered.WaitAsync(cancellationToken);
        }
        catch
        {
            Forget(registration);
            throw;
        }
        finally
        {
            _pending.TryRemove(correlation, out _);
        }
    }

    private void Forget(ClientRegistration registration)
    {
        lock (_state)
        {
            registration.IsRemoved = true;
            _registrations.Remove(registration);
            switch (registration)
            {
                case ClientListener listener:
                    _listeners.TryRemove(listener.Id, out _);
                    break;
                case ClientSender sender:
                    _senders.TryRemove(KeyValuePair.Create(sender.Name, sender));
                    break;
            }
        }
    }

    /// <summary>Removes a registration: locally at once, on the broker before this returns (when connected).</summary>
    internal async ValueTask RemoveAsync(ClientRegistration registration)
    {
        if (registration.IsRemoved)
        {
            return;
        }

        Forget(registration);
        if (registration is ClientListener listener)
        {
            await listener.Listener.CloseAsync(null);
        }

        if (!IsConnected || _disposed != 0)
        {
            return;
        }

        var id = NextId();
        var call = new PendingCall();
        _pending[id] = call;
        try
        {
            Send(output =>
            {
                switch (registration)
                {
                    case ClientSender sender:
                        Frames.RemoveByName(output, _crc, FrameType.RemoveSender, id, sender.Name);
                        break;
                    case ClientProducer producer:
                        Frames.RemoveByName(output, _crc, FrameType.RemoveProducer, id, producer.Name);
                        break;
                    case ClientListener l:
                        Frames.Unlisten(output, _crc, id, l.Id);
                        break;
                }
            });
            await call.Task.WaitAsync(_options.ConnectTimeout, _options.Bus.TimeProvider);
        }
        catch (Exception ex) when (ex is SwitchboardException or TimeoutException)
        {
            // The connection went away meanwhile: the broker dropped the registration with it.
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Tells the broker of a producer's topic change and waits for its answer; offline, the change travels with
    /// the next registration instead.</summary>
    internal async ValueTask ChangeProducerTopicAsync(ClientProducer producer, string topic, bool add, CancellationToken cancellationToken)
    {
        if (!IsConnected)
        {
            return;
        }

        // A registration still on its way carries the topics of when it was written: send the change after it. Should
        // the connection drop first, the call fails as connection_lost and the next registration carries the change.
        await producer.Registered.WaitAsync(cancellationToken);
        await CallAsync((output, id) => Frames.ProducerTopic(output, _crc, id, producer.Name, add, topic), cancellationToken);
    }

    /// <summary>Writes a frame into the outbound buffer (sent now, or after a reconnect).</summary>
    private void Send(Action<System.Buffers.IBufferWriter<byte>> write)
    {
        _out.Write(Lane.Data, write, static (output, _, in encode) => encode(output));
    }

    /// <summary>Writes a TRIGGER of one event (<paramref name="events"/> null) or of several; a trigger that finds the
    /// offline buffer full is dropped and counted.</summary>
    internal void SendTrigger(string sender, string? @event, IReadOnlyList<string>? events, Payload data, MessageHeaders? headers, bool retain)
    {
        var flags = retain ? Protocol.TriggerRetain : (byte)0;
        var outcome = _out.WriteBounded((sender, @event, events, flags, headers, data), static (output, crc, in t) =>
        {
            if (t.events is null)
            {
                Frames.Trigger(output, crc, t.sender, t.@event!, t.flags, t.headers, t.data);
            }
            else
            {
                Frames.Trigger(output, crc, t.sender, t.events, t.flags, t.headers, t.data);
            }
        });
        if (outcome == WriteOutcome.Full)
        {
            Counters.AddOfflineDrop();
        }
    }

    private void SendReply(uint id, string? code, string? message, Payload data)
    {
        _out.Write(Lane.Data, (id, code, message, data), static (output, crc, in r) => Frames.Reply(output, crc, r.id, r.code, r.message, r.data));
    }

    /// <summary>Leaves cleanly: the broker removes this client's registrations without firing last wills.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var connection = Volatile.Read(ref _connection);
        if (connection is not null)
        {
            Send(output => Frames.Goodbye(output, _crc));
        }

        _out.Complete();
        if (connection is not null)
        {
            await Task.WhenAny(connection.Writing, Task.Delay(ShutdownGrace, _options.Bus.TimeProvider, CancellationToken.None));
        }

        await _disposing.CancelAsync();
        connection?.Abort("disposed");
        await _runner.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _heartbeat.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await DrainBackgroundAsync();
        List<ClientRegistration> registrations;
        lock (_state)
        {
            registrations = [.. _registrations];
            _registrations.Clear();
        }

        foreach (var registration in registrations)
        {
            registration.IsRemoved = true;
            if (registration is ClientListener listener)
            {
                await listener.Listener.CloseAsync(null);
            }
        }

        FailPending(new SwitchboardException(ErrorCodes.Closed, "The client was disposed."));
        _disposing.Dispose();
    }

    /// <summary>Dies like a crashed process: the socket is cut without a goodbye and the client does not reconnect (tests of last wills and presence).</summary>
    internal async Task KillAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _disposing.CancelAsync();
        Volatile.Read(ref _connection)?.Abort("killed");
        await _runner.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _heartbeat.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>How long disposing waits for the last frames to be written and for handlers still running.</summary>
    private static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(2);

    /// <summary>Owns a background task: it is awaited (up to <see cref="ShutdownGrace"/>) on dispose, and a fault is logged.</summary>
    private void Track(Task task, string what)
    {
        if (task.IsCompletedSuccessfully)
        {
            return;
        }

        _background[task] = what;
        _ = task.ContinueWith(
            static (done, state) =>
            {
                var (client, what) = ((BusClient, string))state!;
                client._background.TryRemove(done, out _);
                if (done.IsFaulted)
                {
                    client._log.BackgroundFailed(done.Exception!.GetBaseException(), what);
                }
            },
            (this, what),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private async Task DrainBackgroundAsync()
    {
        var running = _background.Keys.ToArray();
        if (running.Length > 0)
        {
            await Task.WhenAny(Task.WhenAll(running), Task.Delay(ShutdownGrace, _options.Bus.TimeProvider, CancellationToken.None));
        }
    }

    private void FailPending(SwitchboardException error)
    {
        foreach (var (id, call) in _pending)
        {
            if (call is ClientRegistration && _disposed == 0)
            {
                continue; // registered again after the reconnect
            }

            if (_pending.TryRemove(id, out _))
            {
                call.Fail(error);
            }
        }

        foreach (var (_, gather) in _gathers)
        {
            gather.Finish(canceled: true);
        }
    }

    private sealed class RequestCall : PendingCall
    {
        public RequestCall(string sender, string request)
        {
            Sender = sender;
            Request = request;
        }

        public string Sender { get; }

        public string Request { get; }
    }
}
