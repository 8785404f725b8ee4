namespace Switchboard;

/// <summary>
/// What a <see cref="BusBridge"/> forwards: <see cref="Outbound"/> from the bus <c>BridgeAsync</c> is called on to the
/// other bus, <see cref="Inbound"/> from the other bus back. A direction left null forwards nothing.
/// </summary>
public sealed record BridgeOptions
{
    /// <summary>The bridge's name: carried in the <see cref="BridgeHeaders.Via"/> header of everything it forwards (how
    /// it recognises its own traffic) and used for its gather producers (<c>NAME-out</c>, <c>NAME-in</c>). One token
    /// (no dots); null picks <c>bridge-</c> and 8 hex digits.</summary>
    public string? Name { get; init; }

    /// <summary>From this bus to the other one; null forwards nothing that way.</summary>
    public BridgeRoute? Outbound { get; init; }

    /// <summary>From the other bus to this one; null forwards nothing that way.</summary>
    public BridgeRoute? Inbound { get; init; }

    /// <summary>The most bridges a message may have crossed (<see cref="BridgeHeaders.Hops"/>) before a bridge refuses
    /// to forward it again (counted in <see cref="BridgeCounters.Skipped"/>). A last defence against cycles of bridges.</summary>
    public int MaxHops { get; init; } = 8;

    /// <summary>How long a request forwarded to its origin sender may take.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The ttl of a gather forwarded to the origin bus, unless the gather carries a
    /// <see cref="BridgeHeaders.TtlMs"/> header. Keep it below the far gatherers' own ttl, or the bridged answer is late.</summary>
    public TimeSpan GatherTtl { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long removing the mirror of a sender that left waits for the bridge's listeners to forward what
    /// that sender triggered before it left (its last will, for one).</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>One direction of a bridge: which listener patterns, requests and gather topics cross it, and how the
/// mirrored sender names are shown on the far side.</summary>
public sealed record BridgeRoute
{
    /// <summary>The listener registrations whose messages are forwarded: each is an ordinary listener on the origin bus,
    /// with the usual rules (a targeted event needs its sender named; <c>#channel</c> patterns may take any sender).</summary>
    public IReadOnlyList<BridgeFilter> Events { get; init; } = [];

    /// <summary>Origin senders whose requests are answered across the bridge (their mirror forwards each request to
    /// them); <c>*</c> means every mirrored sender. Others are mirrored without request handlers (<c>no_handler</c>).</summary>
    public IReadOnlyList<string> RequestSenders { get; init; } = [];

    /// <summary>Gather topics forwarded: the bridge registers one producer for them on the far side, which gathers on
    /// the origin bus and answers with every origin result packed in one (<see cref="BusBridge.Unpack"/>).</summary>
    public IReadOnlyList<string> GatherTopics { get; init; } = [];

    /// <summary>Put before every mirrored sender's name on the far side (<c>"site-a:"</c> shows <c>kitchen</c> as
    /// <c>site-a:kitchen</c>); null shows the origin name unchanged. The origin name is always carried in
    /// <see cref="BridgeHeaders.Origin"/>.</summary>
    public string? NamePrefix { get; init; }

    /// <summary>The options of the bridge's listeners on the origin bus (capacity, overflow policy, group); their drops
    /// count in <see cref="BridgeCounters.Dropped"/>. <see cref="ListenerOptions.MaxConcurrency"/> must be 1 (a bridge
    /// keeps order) and <see cref="ListenerOptions.BorrowData"/> false (forwarded data is kept by the far bus).</summary>
    public ListenerOptions? Listener { get; init; }
}

/// <summary>A listener registration a bridge forwards: a sender (null for any) and an event pattern (null for any).</summary>
/// <param name="Sender">The origin sender, or null for any (then <paramref name="Event"/> must be a <c>#channel</c> pattern or null).</param>
/// <param name="Event">The event pattern (<c>*</c> one token, <c>&gt;</c> the rest), or null for every event.</param>
public readonly record struct BridgeFilter(string? Sender, string? Event)
{
    /// <summary>A channel pattern from any sender (<c>"#alerts.&gt;"</c>).</summary>
    public static implicit operator BridgeFilter(string channelPattern) => FromPattern(channelPattern);

    /// <summary>A pattern from any sender (what the implicit conversion from a string makes).</summary>
    /// <param name="pattern">A <c>#channel</c> pattern.</param>
    public static BridgeFilter FromPattern(string pattern) => new(null, pattern);

    /// <summary>True when a message from <paramref name="sender"/> with <paramref name="event"/> matches this filter.</summary>
    internal bool Matches(string sender, string @event) =>
        (Sender is null || string.Equals(Sender, sender, StringComparison.Ordinal))
        && (Event is null || EventPattern.IsMatch(Event, @event));
}
