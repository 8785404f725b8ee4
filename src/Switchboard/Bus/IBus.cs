namespace Switchboard;

/// <summary>
/// An event bus: <see cref="LocalBus"/> in process, or a client connected to a broker. Every kind behaves the same;
/// one contract test suite runs against each. Every registration is <see cref="IAsyncDisposable"/>.
/// </summary>
public interface IBus : IAsyncDisposable
{
    /// <summary>Drops and errors this bus counted (never silent loss).</summary>
    BusCounters Counters { get; }

    /// <summary>Registers a sender with the events it triggers and the requests it answers. The name must be unique on the whole bus.
    /// Raises <c>#connect</c> for it.</summary>
    /// <param name="name">The sender's name.</param>
    /// <param name="events">Every event the sender may trigger (channel events start with <c>#</c>).</param>
    /// <param name="requests">Handlers by request name.</param>
    /// <param name="options">A default request handler, a last will.</param>
    /// <param name="cancellationToken">Cancels the registration.</param>
    ValueTask<ISender> AddSenderAsync(string name, IReadOnlyList<string> events, Dictionary<string, RequestHandler>? requests = null, SenderOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Registers a callback listener. <paramref name="sender"/> null means any sender, <paramref name="event"/> null means any event;
    /// a listener for any sender must name a channel pattern (<c>#...</c>) or no event at all.</summary>
    /// <param name="sender">The sender to listen to, or null for any.</param>
    /// <param name="event">An event pattern (<c>*</c> one token, <c>&gt;</c> the rest), or null for any event.</param>
    /// <param name="handler">Called once per message, one at a time unless <see cref="ListenerOptions.MaxConcurrency"/> says otherwise.</param>
    /// <param name="options">Queue bound, overflow policy, concurrency, group.</param>
    /// <param name="cancellationToken">Cancels the registration.</param>
    ValueTask<IListener> ListenAsync(string? sender, string? @event, MessageHandler handler, ListenerOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Registers a listener read as a queue (<c>await foreach</c>, <c>TryRead</c>, <c>ReadAsync</c>).</summary>
    /// <param name="sender">The sender to listen to, or null for any.</param>
    /// <param name="event">An event pattern, or null for any event.</param>
    /// <param name="options">Queue bound, overflow policy, group.</param>
    /// <param name="cancellationToken">Cancels the registration.</param>
    ValueTask<IListenerQueue> ListenAsync(string? sender, string? @event, ListenerOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Registers one callback listener for several event patterns:
    /// <c>ListenAsync("bot", ["#a", "#c"], handler)</c>. Each message is delivered once, in order per sender as for one
    /// pattern; patterns that could both match one event are refused (<c>invalid_argument</c>: keep the wider one).</summary>
    /// <param name="sender">The sender to listen to, or null for any (then every pattern must be a channel pattern).</param>
    /// <param name="events">Two or more event patterns; one is the same as the single-pattern overload.</param>
    /// <param name="handler">Called once per message.</param>
    /// <param name="options">Queue bound, overflow policy, concurrency, group.</param>
    /// <param name="cancellationToken">Cancels the registration.</param>
    ValueTask<IListener> ListenAsync(string? sender, EventPatterns events, MessageHandler handler, ListenerOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Registers one queue for several event patterns; see the callback overload.</summary>
    /// <param name="sender">The sender to listen to, or null for any.</param>
    /// <param name="events">The event patterns.</param>
    /// <param name="options">Queue bound, overflow policy, group.</param>
    /// <param name="cancellationToken">Cancels the registration.</param>
    ValueTask<IListenerQueue> ListenAsync(string? sender, EventPatterns events, ListenerOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Asks <paramref name="sender"/> for data. Fails with a <see cref="RequestFailedException"/> whose code is
    /// <c>no_sender</c> or <c>no_handler</c> at once, <c>handler_error</c> with the handler's message, or <c>timeout</c>.</summary>
    /// <param name="sender">The sender asked.</param>
    /// <param name="request">The request name.</param>
    /// <param name="data">The request's data.</param>
    /// <param name="timeout">How long to wait; null uses <see cref="BusOptions.DefaultRequestTimeout"/>.</param>
    /// <param name="headers">Headers sent with the request.</param>
    /// <param name="cancellationToken">Abandons the request.</param>
    ValueTask<Payload> RequestAsync(string sender, string request, Payload data = default, TimeSpan? timeout = null, MessageHeaders? headers = null, CancellationToken cancellationToken = default);

    /// <summary>Registers a producer that answers gathers on <paramref name="topics"/>.</summary>
    /// <param name="topics">The topics it answers.</param>
    /// <param name="handler">Produces its result.</param>
    /// <param name="options">Its name and queue group.</param>
    /// <param name="cancellationToken">Cancels the registration.</param>
    ValueTask<IProducer> AddProducerAsync(IReadOnlyList<string> topics, ProducerHandler handler, ProducerOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Asks every producer of <paramref name="topic"/> at once. Results stream to the caller and to the topic's result listeners
    /// as they arrive, until every producer answered or <paramref name="ttl"/> passed; later results are dropped and counted.
    /// The gather starts at once; <see cref="GatherCall.Summary"/> says who answered, who did not, and how many came late.</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="data">What the producers receive.</param>
    /// <param name="ttl">How long results are accepted.</param>
    /// <param name="headers">Headers sent to the producers.</param>
    /// <param name="cancellationToken">Ends the gather early.</param>
    GatherCall GatherAsync(string topic, Payload data, TimeSpan ttl, MessageHeaders? headers = null, CancellationToken cancellationToken = default);

    /// <summary>Registers a callback for every result produced on <paramref name="topic"/>, whoever gathered.
    /// Each message's <see cref="BusMessage.Sender"/> is the producer and <see cref="BusMessage.Event"/> the topic.</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="handler">Called once per result.</param>
    /// <param name="options">Queue bound, overflow policy, concurrency.</param>
    /// <param name="cancellationToken">Cancels the registration.</param>
    ValueTask<IListener> ListenResultsAsync(string topic, MessageHandler handler, ListenerOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>The senders online, with their events and requests.</summary>
    /// <param name="cancellationToken">Abandons the query.</param>
    ValueTask<IReadOnlyList<SenderInfo>> GetSendersAsync(CancellationToken cancellationToken = default);

    /// <summary>Returns when everything triggered before it has reached the bus's router.</summary>
    /// <param name="cancellationToken">Abandons the wait.</param>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);
}
