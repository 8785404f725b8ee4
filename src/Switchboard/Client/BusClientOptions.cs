namespace Switchboard;

/// <summary>Settings of a <see cref="BusClient"/>.</summary>
public sealed record BusClientOptions
{
    /// <summary>The name the client gives in HELLO (shown in broker logs).</summary>
    public string ClientName { get; init; } = "client";

    /// <summary>Credentials sent in HELLO, when the broker asks for them.</summary>
    public string? Credentials { get; init; }

    /// <summary>Called before every handshake (the first connection and each reconnection); what it returns is sent
    /// instead of <see cref="Credentials"/>. Give it when credentials expire: a short-lived JWT fetched fresh from your
    /// application server each time, so a connection the broker ended with <c>token_expired</c> comes back with a new
    /// token instead of being refused with the old one. If it throws, that attempt fails and reconnecting goes on.</summary>
    public Func<CancellationToken, ValueTask<string?>>? CredentialsProvider { get; init; }

    /// <summary>How <c>sbs://</c> (TLS) connections check the broker and prove the client: by default the broker's
    /// certificate must chain to a root this machine trusts and name the address's host.</summary>
    public BusTlsOptions Tls { get; init; } = BusTlsOptions.Default;

    /// <summary>Ask for a CRC-32C on every frame (for links that can corrupt bytes; TCP does not need it).</summary>
    public bool Crc { get; init; }

    /// <summary>How often to ping an idle broker; a broker silent for <see cref="HeartbeatMisses"/> intervals is dead.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How many heartbeat intervals of silence make the broker dead.</summary>
    public int HeartbeatMisses { get; init; } = 2;

    /// <summary>How long one connection attempt (socket and handshake) may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Keep trying when no broker is reachable at the first connect (NATS's retry-on-failed-connect): the
    /// connect call returns, the client connects in the background with the reconnect back-off, and what is registered,
    /// triggered or requested meanwhile is buffered (registrations return at once; a refusal later is raised as
    /// <see cref="BusClient.Error"/>). Off by default: the first connect fails with <c>connect_failed</c>.</summary>
    public bool RetryInitialConnect { get; init; }

    /// <summary>The first reconnect delay; it doubles after each failed round, up to <see cref="MaxReconnectDelay"/>, with jitter.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest reconnect delay.</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The bytes of frames kept while the connection is down (and waiting for the socket); beyond it, triggers are dropped and counted in <see cref="BusCounters.OfflineDrops"/>.</summary>
    public long OfflineBufferBytes { get; init; } = 8L << 20;

    /// <summary>The largest frame accepted from the broker (at least 64 KiB). It is announced in HELLO, and the broker
    /// sends nothing larger: an event too large for it is dropped for this client, an answer becomes an error.</summary>
    public int MaxFrameSize { get; init; } = Wire.Protocol.DefaultMaxFrameSize;

    /// <summary>Clock, logging, request timeout, default listener options.</summary>
    public BusOptions Bus { get; init; } = BusOptions.Default;
}
