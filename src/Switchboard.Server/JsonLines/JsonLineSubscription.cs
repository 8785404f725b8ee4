namespace Switchboard.Server;

/// <summary>
/// A JSON-lines listen as the router sees it: delivering writes an <c>event</c> line straight into the connection's
/// outbound buffer (no queue of its own). The buffer's byte bound is the connection's slow-consumer limit.
/// </summary>
internal sealed class JsonLineSubscription : PeerSubscription
{
    private readonly JsonLinesPeer _connection;

    public JsonLineSubscription(JsonLinesPeer connection, LineId? listenId, string? sender, string? pattern, string? group)
        : base(sender, pattern, group)
    {
        _connection = connection;
        ListenId = listenId;
    }

    /// <summary>The listen's <c>id</c>, echoed as <c>"listen"</c> on each event line.</summary>
    public LineId? ListenId { get; }

    /// <summary>True for a <c>results</c> listen: its lines are <c>result</c> lines naming the producer and topic.</summary>
    public bool Results { get; init; }

    /// <summary>The last sequence number given (written under the connection's outbound lock).</summary>
    public long Seq { get; set; }

    /// <summary>False until the listen's ok is written; deliveries before that (retained values, or a trigger racing
    /// the registration) wait in <see cref="Early"/>, so the ok always comes first. Under the connection's outbound lock.</summary>
    public bool Started { get; set; }

    /// <summary>Deliveries that arrived before <see cref="Started"/>, with their sequence numbers.</summary>
    public List<(BusMessage Message, long Seq)>? Early { get; set; }

    public override ValueTask DeliverAsync(in BusMessage message)
    {
        _connection.Deliver(this, message);
        return default;
    }
}
