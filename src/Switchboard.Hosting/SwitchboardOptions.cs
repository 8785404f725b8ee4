namespace Switchboard.Hosting;

/// <summary>
/// What <c>services.AddSwitchboard(...)</c> registers, bindable from configuration (the section <c>Switchboard</c> by
/// convention: <c>"Switchboard": { "Broker": "sb://127.0.0.1:7222", "ClientName": "orders" }</c>). Without
/// <see cref="Broker"/> the application gets a <see cref="LocalBus"/> in process; with it, a <see cref="BusClient"/> of
/// that broker. The defaults are <see cref="BusClientOptions"/>' own. Checked when the host starts
/// (<see cref="SwitchboardOptionsValidator"/>): a bad value stops the start with <c>invalid_options</c> naming the key.
/// </summary>
public sealed class SwitchboardOptions
{
    /// <summary>The configuration section <c>AddSwitchboard(configuration)</c> reads when given a whole configuration.</summary>
    public const string SectionName = "Switchboard";

    // The one place the defaults live is BusClientOptions: every default below is read from it.
    private static readonly BusClientOptions ClientDefaults = new();

    /// <summary>The broker to connect to (<c>sb://HOST:PORT</c>, <c>sb+unix:///PATH</c>, <c>ws://HOST:PORT/ws</c>), or
    /// several separated by commas (the client connects to the first it reaches, later to any). Null or empty: an
    /// in-process <see cref="LocalBus"/>.</summary>
    public string? Broker { get; set; }

    /// <summary>The name the client gives the broker (shown in its logs and dashboard). Null: the application's name
    /// (<c>IHostEnvironment.ApplicationName</c>).</summary>
    public string? ClientName { get; set; }

    /// <summary>Credentials sent in the handshake, when the broker asks for them.</summary>
    public string? Credentials { get; set; }

    /// <summary>Start even when no broker is reachable, and keep trying in the background (what is triggered meanwhile
    /// is buffered, bounded by <see cref="OfflineBufferBytes"/>). Off: the host's start fails with <c>connect_failed</c>.</summary>
    public bool RetryInitialConnect { get; set; } = ClientDefaults.RetryInitialConnect;

    /// <summary>How long one connection attempt (socket and handshake) may take.</summary>
    public TimeSpan ConnectTimeout { get; set; } = ClientDefaults.ConnectTimeout;

    /// <summary>How often an idle broker is pinged.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = ClientDefaults.HeartbeatInterval;

    /// <summary>How many heartbeat intervals of silence make the broker dead (then the client reconnects).</summary>
    public int HeartbeatMisses { get; set; } = ClientDefaults.HeartbeatMisses;

    /// <summary>The first reconnect delay (it doubles up to <see cref="MaxReconnectDelay"/>, with jitter).</summary>
    public TimeSpan ReconnectDelay { get; set; } = ClientDefaults.ReconnectDelay;

    /// <summary>The longest reconnect delay.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = ClientDefaults.MaxReconnectDelay;

    /// <summary>The bytes kept while disconnected; past it triggers are dropped and counted.</summary>
    public long OfflineBufferBytes { get; set; } = ClientDefaults.OfflineBufferBytes;

    /// <summary>The largest frame accepted from the broker.</summary>
    public int MaxFrameSize { get; set; } = ClientDefaults.MaxFrameSize;

    /// <summary>The timeout of a request that gives none (local and remote buses alike).</summary>
    public TimeSpan DefaultRequestTimeout { get; set; } = ClientDefaults.Bus.DefaultRequestTimeout;

    /// <summary>How long stopping the host waits for what was triggered to reach the broker (<c>FlushAsync</c>) before
    /// the bus is disposed.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The broker addresses in <see cref="Broker"/>, or none for an in-process bus.</summary>
    public IReadOnlyList<string> BrokerAddresses =>
        string.IsNullOrWhiteSpace(Broker) ? [] : Broker.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The client settings these options stand for.</summary>
    /// <param name="defaultClientName">The name used when <see cref="ClientName"/> is not set.</param>
    /// <param name="bus">Clock and logging from the host.</param>
    public BusClientOptions ToClientOptions(string defaultClientName, BusOptions bus) => new()
    {
        ClientName = string.IsNullOrWhiteSpace(ClientName) ? defaultClientName : ClientName,
        Credentials = Credentials,
        RetryInitialConnect = RetryInitialConnect,
        ConnectTimeout = ConnectTimeout,
        HeartbeatInterval = HeartbeatInterval,
        HeartbeatMisses = HeartbeatMisses,
        ReconnectDelay = ReconnectDelay,
        MaxReconnectDelay = MaxReconnectDelay,
        OfflineBufferBytes = OfflineBufferBytes,
        MaxFrameSize = MaxFrameSize,
        Bus = bus,
    };
}
