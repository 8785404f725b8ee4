namespace Switchboard;

/// <summary>A registered sender. Disposing it removes it from the bus and raises <c>#disconnect</c>.</summary>
public interface ISender : IAsyncDisposable
{
    /// <summary>The sender's unique name.</summary>
    string Name { get; }

    /// <summary>The events it declared.</summary>
    IReadOnlyList<string> Events { get; }

    /// <summary>Triggers a declared event. Completes when every listener accepted the message (at once unless a listener
    /// with <see cref="OverflowPolicy.Wait"/> is full).</summary>
    /// <param name="event">A declared event.</param>
    /// <param name="data">The data.</param>
    /// <param name="headers">Headers.</param>
    /// <param name="retain">Keep this as the event's retained value: listeners that register later receive it at once.
    /// An empty payload with <paramref name="retain"/> clears the retained value.</param>
    /// <param name="cancellationToken">Abandons waiting for room.</param>
    ValueTask TriggerAsync(string @event, Payload data = default, MessageHeaders? headers = null, bool retain = false, CancellationToken cancellationToken = default);

    /// <summary>Triggers several declared events with the same data.</summary>
    /// <param name="events">Declared events.</param>
    /// <param name="data">The data.</param>
    /// <param name="headers">Headers.</param>
    /// <param name="retain">Keep as retained values.</param>
    /// <param name="cancellationToken">Abandons waiting for room.</param>
    ValueTask TriggerAsync(IReadOnlyList<string> events, Payload data = default, MessageHeaders? headers = null, bool retain = false, CancellationToken cancellationToken = default);
}
