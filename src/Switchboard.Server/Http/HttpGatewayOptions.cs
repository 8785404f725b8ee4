namespace Switchboard.Server;

/// <summary>
/// Limits and timings of the HTTP gateway (<c>/events</c> SSE streams, <c>/publish</c>, <c>/request</c>, <c>/gather</c>,
/// <c>/senders</c>, <c>/metrics</c> and the dashboard). Every bound here keeps the broker's memory bounded whatever HTTP
/// clients do; see docs/protocol.md, "HTTP gateway".
/// </summary>
public sealed record HttpGatewayOptions
{
    /// <summary>The defaults.</summary>
    public static HttpGatewayOptions Default { get; } = new();

    /// <summary>The largest request body accepted, in bytes; a larger one is answered 413 <c>body_too_large</c> without being read whole.</summary>
    public int MaxBodyBytes { get; init; } = 1 << 20;

    /// <summary>How many messages each SSE stream keeps for <c>Last-Event-ID</c> resume (a ring: the oldest go first).</summary>
    public int SseHistory { get; init; } = 1000;

    /// <summary>The most bytes each SSE stream's history may hold; older messages go first when it is over.</summary>
    public long SseHistoryBytes { get; init; } = 1L << 20;

    /// <summary>How many messages an SSE stream's own bus listener may hold before its pump copies them into the history;
    /// over it the newest are dropped (<see cref="OverflowPolicy.DropNewest"/>), counted, and announced on the stream
    /// as an <c>sb-dropped</c> event.</summary>
    public int SseListenerCapacity { get; init; } = 1024;

    /// <summary>The most SSE streams (distinct <c>sender</c>/<c>event</c> queries) alive at once. When a new one is
    /// needed and the limit is reached, the stream idle longest is retired; if none is idle, the request gets 503.</summary>
    public int MaxSseStreams { get; init; } = 256;

    /// <summary>The most SSE connections (event streams and dashboards) open at once; more get 503.</summary>
    public int MaxSseClients { get; init; } = 1000;

    /// <summary>The most SSE connections open at once from one IP address; more from it get 429.</summary>
    public int MaxSseClientsPerAddress { get; init; } = 100;

    /// <summary>How long a stream with no client left keeps listening and recording, so a client that reconnects finds
    /// what was published meanwhile.</summary>
    public TimeSpan SseStreamGrace { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How often an idle SSE connection gets a keep-alive comment line.</summary>
    public TimeSpan SseKeepAlive { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The reconnection delay sent to SSE clients once, as <c>retry:</c>.</summary>
    public TimeSpan SseRetry { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>The most senders registered over HTTP (<c>POST /senders</c>) at once.</summary>
    public int MaxSenders { get; init; } = 1000;

    /// <summary>The longest <c>timeout_ms</c> of <c>POST /request</c> and <c>ttl_ms</c> of <c>POST /gather</c>.</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often the dashboard's stream (<c>/dashboard/stream</c>) sends a snapshot (also at once on presence changes).</summary>
    public TimeSpan DashboardInterval { get; init; } = TimeSpan.FromSeconds(1);

    internal void Validate()
    {
        Check(MaxBodyBytes >= 64, nameof(MaxBodyBytes), "at least 64");
        Check(SseHistory >= 1, nameof(SseHistory), "at least 1");
        Check(SseHistoryBytes >= 1024, nameof(SseHistoryBytes), "at least 1024");
        Check(SseListenerCapacity >= 1, nameof(SseListenerCapacity), "at least 1");
        Check(MaxSseStreams >= 1, nameof(MaxSseStreams), "at least 1");
        Check(MaxSseClients >= 1, nameof(MaxSseClients), "at least 1");
        Check(MaxSseClientsPerAddress >= 1, nameof(MaxSseClientsPerAddress), "at least 1");
        Check(SseStreamGrace >= TimeSpan.Zero, nameof(SseStreamGrace), "zero or more");
        Check(SseKeepAlive > TimeSpan.Zero, nameof(SseKeepAlive), "more than zero");
        Check(SseRetry > TimeSpan.Zero, nameof(SseRetry), "more than zero");
        Check(MaxSenders >= 0, nameof(MaxSenders), "zero or more");
        Check(MaxWait > TimeSpan.Zero, nameof(MaxWait), "more than zero");
        Check(DashboardInterval > TimeSpan.Zero, nameof(DashboardInterval), "more than zero");

        static void Check(bool ok, string name, string rule)
        {
            if (!ok)
            {
                throw new ArgumentException($"HttpGatewayOptions.{name} must be {rule}.", name);
            }
        }
    }
}
