using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization.Metadata;

namespace Switchboard;

/// <summary>Conveniences over <see cref="IBus"/>: typed requests, synchronous callbacks, single-topic producers.</summary>
public static class BusExtensions
{
    /// <summary>Registers a listener whose callback is synchronous.</summary>
    /// <param name="bus">The bus.</param>
    /// <param name="sender">The sender, or null for any.</param>
    /// <param name="event">The event pattern, or null for any.</param>
    /// <param name="handler">Called once per message.</param>
    /// <param name="options">Listener options.</param>
    /// <param name="cancellationToken">Cancels the registration.</param>
    public static ValueTask<IListener> ListenAsync(this IBus bus, string? sender, string? @event, Action<BusMessage> handler, ListenerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(handler);
        return bus.ListenAsync(sender, @event, (message, _) =>
        {
            handler(message);
            return default;
        }, options, cancellationToken);
    }

    /// <summary>Asks a sender and reads the answer as JSON of type <typeparamref name="T"/>.</summary>
    /// <param name="bus">The bus.</param>
    /// <param name="sender">The sender asked.</param>
    /// <param name="request">The request name.</param>
    /// <param name="data">The request's data.</param>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="cancellationToken">Abandons the request.</param>
    [RequiresUnreferencedCode("Reflection-based JSON; pass a JsonTypeInfo from a source-generated context to be trim-safe.")]
    [RequiresDynamicCode("Reflection-based JSON; pass a JsonTypeInfo from a source-generated context to be AOT-safe.")]
    public static async ValueTask<T?> RequestAsync<T>(this IBus bus, string sender, string request, Payload data = default, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bus);
        var answer = await bus.RequestAsync(sender, request, data, timeout, null, cancellationToken);
        return answer.As<T>();
    }

    /// <summary>Asks a sender and reads the answer with source-generated JSON metadata.</summary>
    /// <param name="bus">The bus.</param>
    /// <param name="sender">The sender asked.</param>
    /// <param name="request">The request name.</param>
    /// <param name="typeInfo">The answer's JSON metadata.</param>
    /// <param name="data">The request's data.</param>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="cancellationToken">Abandons the request.</param>
    public static async ValueTask<T?> RequestAsync<T>(this IBus bus, string sender, string request, JsonTypeInfo<T> typeInfo, Payload data = default, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bus);
        var answer = await bus.RequestAsync(sender, request, data, timeout, null, cancellationToken);
        return answer.As(typeInfo);
    }

    /// <summary>Registers a producer for one topic.</summary>
    /// <param name="bus">The bus.</param>
    /// <param name="topic">The topic.</param>
    /// <param name="handler">Produces the result.</param>
    /// <param name="options">Name and group.</param>
    /// <param name="cancellationToken">Cancels the registration.</param>
    public static ValueTask<IProducer> AddProducerAsync(this IBus bus, string topic, ProducerHandler handler, ProducerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bus);
        return bus.AddProducerAsync([topic], handler, options, cancellationToken);
    }

    /// <summary>Registers a queue of every result produced on <paramref name="topic"/>.</summary>
    /// <param name="bus">The bus.</param>
    /// <param name="topic">The topic.</param>
    /// <param name="handler">Called once per result.</param>
    /// <param name="options">Listener options.</param>
    /// <param name="cancellationToken">Cancels the registration.</param>
    public static ValueTask<IListener> ListenResultsAsync(this IBus bus, string topic, Action<BusMessage> handler, ListenerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(handler);
        return bus.ListenResultsAsync(topic, (message, _) =>
        {
            handler(message);
            return default;
        }, options, cancellationToken);
    }
}
