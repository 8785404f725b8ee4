using System.Diagnostics.CodeAnalysis;

namespace Switchboard;

/// <summary>
/// One delivered message: who triggered it, which event, its data and headers. A struct, so delivering it to
/// a listener allocates nothing.
/// </summary>
public readonly record struct BusMessage
{
    /// <summary>Creates a message.</summary>
    public BusMessage(string sender, string @event, Payload data, MessageHeaders? headers = null)
    {
        Sender = sender;
        Event = @event;
        Data = data;
        Headers = headers ?? MessageHeaders.Empty;
    }

    /// <summary>The sender that triggered the event, stamped by the bus (it cannot be forged).</summary>
    public string Sender { get; }

    /// <summary>The event name (a channel event starts with <c>#</c>); for gather results, the topic.</summary>
    public string Event { get; }

    /// <summary>The data.</summary>
    public Payload Data { get; }

    /// <summary>The headers, never null.</summary>
    public MessageHeaders Headers { get; }

    /// <summary>
    /// True when <see cref="Data"/> points into a receive buffer that is reused once delivery returns (the broker's
    /// zero-copy path). A target that keeps the message past its <c>DeliverAsync</c> call must <see cref="Detach"/> it first.
    /// </summary>
    internal bool IsBorrowed { get; init; }

    /// <summary>This message with its payload copied into memory of its own (a no-op unless borrowed).</summary>
    internal BusMessage Detach() =>
        IsBorrowed ? new BusMessage(Sender, Event, Data.Detach(), Headers) : this;

    /// <summary>True when the event is a channel event.</summary>
    public bool IsChannel => NameRules.IsChannel(Event);

    /// <summary>Reads <see cref="Data"/> as JSON.</summary>
    [RequiresUnreferencedCode("Reflection-based JSON; pass a JsonTypeInfo from a source-generated context to be trim-safe.")]
    [RequiresDynamicCode("Reflection-based JSON; pass a JsonTypeInfo from a source-generated context to be AOT-safe.")]
    public T? As<T>() => Data.As<T>();
}
