namespace Switchboard;

/// <summary>A registered producer. Disposing it removes it from its topics.</summary>
public interface IProducer : IAsyncDisposable
{
    /// <summary>The producer's name, as gather summaries list it.</summary>
    string Name { get; }

    /// <summary>The topics it answers now.</summary>
    IReadOnlyList<string> Topics { get; }

    /// <summary>Starts answering gathers on one more topic, without
    /// leaving the others for a moment. Adding a topic it has is a no-op.</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="cancellationToken">Abandons waiting for the broker's confirmation.</param>
    ValueTask AddTopicAsync(string topic, CancellationToken cancellationToken = default);

    /// <summary>Stops answering gathers on one topic;
    /// the producer stays registered, also with no topic left. Removing a topic it does not have is a no-op.</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="cancellationToken">Abandons waiting for the broker's confirmation.</param>
    ValueTask RemoveTopicAsync(string topic, CancellationToken cancellationToken = default);
}
