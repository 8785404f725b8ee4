using Switchboard.Routing;

namespace Switchboard;

/// <summary>
/// The in-process bus: a <see cref="Router"/> with one session. Everything is delivered by reference, with no
/// serialization and no allocation per message. <see cref="Connect"/> gives another participant on the same bus
/// (its own senders and listeners, removed when it is disposed), which is how a process hosts several independent
/// parts, and how tests play several applications.
/// </summary>
public sealed class LocalBus : IBus
{
    private readonly Router _router;
    private readonly RouterSession _session;
    private readonly bool _ownsRouter;

    /// <summary>Creates a new, empty bus.</summary>
    /// <param name="options">Clock, logging, default timeouts and listener options.</param>
    public LocalBus(BusOptions? options = null)
        : this(new Router(options), ownsRouter: true)
    {
    }

    private LocalBus(Router router, bool ownsRouter)
    {
        _router = router;
        _ownsRouter = ownsRouter;
        _session = router.OpenSession(ownsRouter ? "local" : "local-peer");
    }

    /// <inheritdoc />
    public BusCounters Counters => _router.Counters;

    /// <summary>A participant on an existing router (the broker's in-process bus); disposing it closes only its session.</summary>
    internal static LocalBus Over(Router router) => new(router, ownsRouter: false);

    internal Router Router => _router;

    /// <summary>Another participant on this same bus. Disposing it removes only what it registered; disposing the
    /// bus it came from closes everything.</summary>
    public LocalBus Connect() => new(_router, ownsRouter: false);

    /// <inheritdoc />
    public async ValueTask<ISender> AddSenderAsync(string name, IReadOnlyList<string> events, Dictionary<string, RequestHandler>? requests = null, SenderOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Application handlers may block: they run on handler threads, so a request's timeout holds and the asker's
        // thread is not the one blocked.
        var offloaded = requests?.ToDictionary(r => r.Key, r => r.Value is null ? r.Value! : HandlerThreads.Offload(r.Value), StringComparer.Ordinal);
        if (options?.DefaultRequestHandler is { } fallback)
        {
            options = options with { DefaultRequestHandler = HandlerThreads.Offload(fallback) };
        }

        return await _router.AddSenderAsync(_session, name, events, offloaded, options);
    }

    /// <inheritdoc />
    public async ValueTask<IListener> ListenAsync(string? sender, string? @event, MessageHandler handler, ListenerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        cancellationToken.ThrowIfCancellationRequested();
        return await _router.AddListenerAsync(_session, sender, @event, handler, options);
    }

    /// <inheritdoc />
    public async ValueTask<IListenerQueue> ListenAsync(string? sender, string? @event, ListenerOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return await _router.AddListenerAsync(_session, sender, @event, null, options);
    }

    /// <inheritdoc />
    public async ValueTask<IListener> ListenAsync(string? sender, EventPatterns events, MessageHandler handler, ListenerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        cancellationToken.ThrowIfCancellationRequested();
        return await _router.AddListenerAsync(_session, sender, events, handler, options);
    }

    /// <inheritdoc />
    public async ValueTask<IListenerQueue> ListenAsync(string? sender, EventPatterns events, ListenerOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return await _router.AddListenerAsync(_session, sender, events, null, options);
    }

    /// <inheritdoc />
    public ValueTask<Payload> RequestAsync(string sender, string request, Payload data = default, TimeSpan? timeout = null, MessageHeaders? headers = null, CancellationToken cancellationToken = default) =>
        SwitchboardTelemetry.RequestObserved
            ? ObservedRequestAsync(sender, request, data, timeout, headers, cancellationToken)
            : _router.RequestAsync(sender, request, data, timeout, headers, cancellationToken);

    // Apart, so the closure is made only for a request someone observes.
    private ValueTask<Payload> ObservedRequestAsync(string sender, string request, Payload data, TimeSpan? timeout, MessageHeaders? headers, CancellationToken cancellationToken) =>
        SwitchboardTelemetry.ObserveRequestAsync(sender, request, headers, traced => _router.RequestAsync(sender, request, data, timeout, traced, cancellationToken));

    /// <inheritdoc />
    public ValueTask<IProducer> AddProducerAsync(IReadOnlyList<string> topics, ProducerHandler handler, ProducerOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ArgumentNullException.ThrowIfNull(handler);
        // Instrumented here, not where the router runs producers: a broker's forwarders to its clients' producers are no
        // application's answers.
        return ValueTask.FromResult<IProducer>(_router.AddProducer(_session, topics, HandlerThreads.Offload(SwitchboardTelemetry.Instrument(handler)), options));
    }

    /// <inheritdoc />
    public GatherCall GatherAsync(string topic, Payload data, TimeSpan ttl, MessageHeaders? headers = null, CancellationToken cancellationToken = default) =>
        SwitchboardTelemetry.GatherObserved
            ? ObservedGather(topic, data, ttl, headers, cancellationToken)
            : _router.Gather(topic, data, ttl, headers, cancellationToken);

    // Apart, so the closure is made only for a gather someone observes.
    private GatherCall ObservedGather(string topic, Payload data, TimeSpan ttl, MessageHeaders? headers, CancellationToken cancellationToken) =>
        SwitchboardTelemetry.ObserveGather(topic, headers, traced => _router.Gather(topic, data, ttl, traced, cancellationToken));

    /// <inheritdoc />
    public ValueTask<IListener> ListenResultsAsync(string topic, MessageHandler handler, ListenerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult<IListener>(_router.AddResultListener(_session, topic, handler, options));
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SenderInfo>> GetSendersAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_router.GetSenders());

    /// <inheritdoc />
    /// <remarks>In process, a trigger has reached the router when it returns, so there is nothing to wait for.</remarks>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => default;

    /// <summary>Ends this participant as if its connection died: its senders' last wills fire, then <c>#disconnect</c>.</summary>
    internal ValueTask AbortAsync() => _router.CloseSessionAsync(_session, clean: false);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_ownsRouter)
        {
            await _router.DisposeAsync();
        }
        else
        {
            await _router.CloseSessionAsync(_session, clean: true);
        }
    }
}
