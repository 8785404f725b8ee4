namespace Switchboard;

/// <summary>A registered listener. Disposing it stops delivery.</summary>
public interface IListener : IAsyncDisposable
{
    /// <summary>The sender listened to, or null for any.</summary>
    string? Sender { get; }

    /// <summary>The event pattern (the first, for a listener of several), or null for any.</summary>
    string? Event { get; }

    /// <summary>Every event pattern of the listener (one, unless it was registered for several).</summary>
    IReadOnlyList<string?> Events => [Event];

    /// <summary>Messages dropped for this listener by its overflow policy or because it was cut.</summary>
    long Dropped { get; }

    /// <summary>Messages accepted and not yet handled or read.</summary>
    int Pending { get; }

    /// <summary>Callbacks that threw (each is logged; the listener keeps running).</summary>
    long Faults { get; }

    /// <summary>Completes when the listener is closed: normally when disposed, with a <see cref="ListenerOverflowException"/>
    /// when it was cut by <see cref="OverflowPolicy.Fail"/>.</summary>
    Task Completion { get; }
}

/// <summary>A listener read as a queue.</summary>
public interface IListenerQueue : IListener
{
    /// <summary>Reads every message until the listener is disposed.</summary>
    /// <param name="cancellationToken">Stops reading.</param>
    IAsyncEnumerable<BusMessage> ReadAllAsync(CancellationToken cancellationToken = default);

    /// <summary>Takes a message if one is waiting, without blocking.</summary>
    /// <param name="message">The message taken.</param>
    bool TryRead(out BusMessage message);

    /// <summary>Waits for the next message.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    ValueTask<BusMessage> ReadAsync(CancellationToken cancellationToken = default);
}
