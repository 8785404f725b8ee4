namespace Switchboard;

/// <summary>Optional parts of a producer.</summary>
public sealed record ProducerOptions
{
    /// <summary>The producer's name in gather summaries; unique on the bus. Null picks <c>producer-N</c>.</summary>
    public string? Name { get; init; }

    /// <summary>A queue group: of the producers in one group on a topic, each gather asks one.</summary>
    public string? Group { get; init; }
}
