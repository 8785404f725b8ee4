using Switchboard.Server.Security;

namespace Switchboard.Server;

/// <summary>How the broker listens and what it allows. Defaults are the ports README.md and docs/protocol.md list.</summary>
public sealed record BrokerOptions
{
    /// <summary>The address the binary protocol binds on TCP.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The binary protocol's TCP port; 0 picks a free one; null turns TCP off.</summary>
    public int? Port { get; init; } = 7222;

    /// <summary>A Unix socket path for the binary protocol; null (the default) turns it off.</summary>
    public string? UnixSocketPath { get; init; }

    /// <summary>The JSON-lines gateway's TCP port (on <see cref="Host"/>); 0 picks a free one; null (the default here) turns it off.
    /// <c>switchboard serve</c> turns it on at 7223.</summary>
    public int? JsonLinesPort { get; init; }

    /// <summary>A Unix socket path for the JSON-lines gateway; null (the default) turns it off.</summary>
    public string? JsonLinesUnixSocketPath { get; init; }

    /// <summary>The longest JSON line accepted from a client, in bytes (without its newline). A longer line is skipped up
    /// to its newline, never held whole, and answered with the error <c>line_too_long</c>; the connection stays.</summary>
    public int MaxJsonLineBytes { get; init; } = 1 << 20;

    /// <summary>The HTTP port (WebSocket at <c>/ws</c>, health, and the HTTP gateway); 0 picks a free one; null (the default here,
    /// 7280 for <c>switchboard serve</c>) turns HTTP off.</summary>
    public int? HttpPort { get; init; }

    /// <summary>Limits and timings of the HTTP gateway (SSE streams and their resume history, body size, dashboard).</summary>
    public HttpGatewayOptions Http { get; init; } = HttpGatewayOptions.Default;

    /// <summary>The name the broker gives in WELCOME.</summary>
    public string ServerName { get; init; } = "switchboard";

    /// <summary>The largest frame accepted from a client.</summary>
    public int MaxFrameSize { get; init; } = Wire.Protocol.DefaultMaxFrameSize;

    /// <summary>The bytes each connection may have waiting to be written before it counts as a slow consumer.</summary>
    public long MaxOutboundBytes { get; init; } = 8L << 20;

    /// <summary>What happens to a connection whose outbound bytes exceed <see cref="MaxOutboundBytes"/>.</summary>
    public SlowConsumerPolicy SlowConsumerPolicy { get; init; } = SlowConsumerPolicy.Disconnect;

    /// <summary>How often the broker pings an idle connection; a connection silent for <see cref="HeartbeatMisses"/> intervals is dead.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How many heartbeat intervals of silence make a connection dead.</summary>
    public int HeartbeatMisses { get; init; } = 2;

    /// <summary>How long a new connection has to send HELLO.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one frame (or one JSON line) may take to arrive once it began: a peer that trickles a frame a
    /// byte at a time is cut with <c>frame_timeout</c> (its bytes would otherwise keep the connection, and the buffer
    /// it fills, alive for ever). Checked by the heartbeat loop, so the cut comes within half a heartbeat interval after.</summary>
    public TimeSpan FrameTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The most client connections the broker keeps open at once (every protocol and carrier); one more is
    /// told <c>too_many</c> and closed.</summary>
    public int MaxConnections { get; init; } = 50_000;

    /// <summary>The most client connections from one remote IP address at once (Unix sockets and stream carriers are not
    /// counted per address); one more is told <c>too_many</c> and closed.</summary>
    public int MaxConnectionsPerAddress { get; init; } = 10_000;

    /// <summary>The most senders one connection may hold (binary or JSON lines); one more is refused with <c>too_many</c>.</summary>
    public int MaxSendersPerConnection { get; init; } = 16_384;

    /// <summary>The most listens (and result listens) one connection may hold; one more is refused with <c>too_many</c>.</summary>
    public int MaxSubscriptionsPerConnection { get; init; } = 16_384;

    /// <summary>The most producers one connection may hold; one more is refused with <c>too_many</c>.</summary>
    public int MaxProducersPerConnection { get; init; } = 4_096;

    /// <summary>How many requests, gathers and sender lists per second one connection may ask (a token bucket of this
    /// size, refilled every 100 ms); past it, each is refused with <c>too_many</c>. Null: no limit.</summary>
    public int? MaxRequestsPerSecond { get; init; } = 1_000_000;

    /// <summary>How long a shutting-down broker waits for clients to leave after telling them (lame duck).</summary>
    public TimeSpan LameDuckGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Runs connection read and write loops on the threads that complete their socket operations instead of
    /// handing each to the thread pool (Kestrel's <c>UnsafePreferInlineScheduling</c>). The broker's own loops never block,
    /// so this only saves hops. Code of yours that the broker runs also runs there: in-process listeners (an idle
    /// callback listener runs on the publisher's thread, whatever its MaxConcurrency), in-process request handlers
    /// and producers, the <see cref="Authenticate"/> callback. Turn this off if any of them may block, or waits
    /// synchronously for an answer from a client (the frame asking for it is only sent once the read batch ends).</summary>
    public bool InlineSocketScheduling { get; init; } = true;

    /// <summary>A shorthand for a custom check of credentials (client name, credentials): returns null to accept (with
    /// every permission), or the reason to refuse. <see cref="Authenticator"/> and <see cref="Security"/> come first.</summary>
    public Func<string, string?, string?>? Authenticate { get; init; }

    /// <summary>Decides who each client is, on every surface (binary, JSON lines, HTTP); null: the broker builds one from
    /// <see cref="Security"/> when it names identities, or from <see cref="Authenticate"/>; with none of them every
    /// client is admitted with every permission.</summary>
    public IAuthenticator? Authenticator { get; init; }

    /// <summary>Identities (tokens, users, JWTs) with their permissions, the anonymous identity, how refused credentials
    /// slow an address down, and the browser rules of the HTTP surface (docs/security.md).</summary>
    public SecurityOptions Security { get; init; } = SecurityOptions.None;

    /// <summary>The router's settings (clock, logging, request timeout).</summary>
    public BusOptions Bus { get; init; } = BusOptions.Default;
}

/// <summary>What the broker does with a connection that does not read fast enough.</summary>
public enum SlowConsumerPolicy
{
    /// <summary>Close it (its senders leave with reason <c>slow_consumer</c>, their last wills fire); everyone else keeps being served.</summary>
    Disconnect,

    /// <summary>Drop messages for it while its buffer is full, counting each drop.</summary>
    DropNewest,
}
