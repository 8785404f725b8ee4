namespace Switchboard.LoadTest;

/// <summary>A running broker on 127.0.0.1. With its process id, the broker's CPU time and RSS are measured too.</summary>
/// <param name="Kind">Which protocol it speaks.</param>
/// <param name="Port">Its TCP port on 127.0.0.1.</param>
/// <param name="Pid">Its process id (a separate process, so /proc gives its CPU and memory alone), or null.</param>
/// <param name="Label">How the report names it (version, how it was started).</param>
/// <param name="Tls">When set, every connection speaks TLS and the broker must show exactly this certificate (a
/// benchmark's self-signed one, pinned); NATS connections upgrade after the server's INFO, as nats-server expects.</param>
/// <param name="Surface">Which of a Switchboard broker's surfaces the port is (its binary TCP port, the JSON-lines
/// gateway, the HTTP port's /ws or /events); nats-server has only its client port.</param>
public sealed record BrokerTarget(BrokerKind Kind, int Port, int? Pid = null, string? Label = null, System.Security.Cryptography.X509Certificates.X509Certificate2? Tls = null, Surface Surface = Surface.Native)
{
    /// <summary>The short name in tables: the column, unique among a run's targets.</summary>
    public string Name => (Kind, Surface) switch
    {
        (BrokerKind.Nats, _) => "nats-server",
        (_, Surface.JsonLines) => "Switchboard JSON-lines",
        (_, Surface.WebSocket) => "Switchboard WebSocket",
        (_, Surface.Sse) => "Switchboard SSE",
        _ => "Switchboard",
    };
}

/// <summary>Which entrance of a broker a target's port is.</summary>
public enum Surface
{
    /// <summary>The broker's own client port: Switchboard's binary protocol over TCP, NATS's text protocol.</summary>
    Native,

    /// <summary>Switchboard's JSON-lines gateway (docs/json-lines.md), one JSON object per line.</summary>
    JsonLines,

    /// <summary>Switchboard's binary protocol over WebSocket at <c>/ws</c> on the HTTP port.</summary>
    WebSocket,

    /// <summary>Switchboard's HTTP port: subscribers are SSE streams (<c>GET /events</c>), the publisher the binary protocol over <c>/ws</c>.</summary>
    Sse,
}

/// <summary>What generates the load: the tool's own raw-socket codecs, or the brokers' real .NET clients.</summary>
public enum LoadDriver
{
    /// <summary>Raw sockets and the tool's wire codecs (pre-encoded, batched sends).</summary>
    Raw,

    /// <summary>The real clients: <c>BusClient</c> for Switchboard, NATS.Net's <c>NatsConnection</c> for nats-server.</summary>
    Clients,
}

/// <summary>What <see cref="LoadRunner.RunAsync"/> measures and how long.</summary>
public sealed record LoadOptions
{
    /// <summary>Every scenario, in order.</summary>
    public static readonly IReadOnlyList<string> AllScenarios = ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9"];

    /// <summary>The scenarios a run gets when none are named (S9, the 1,000-subscriber fan-out, only when asked for).</summary>
    public static readonly IReadOnlyList<string> DefaultScenarios = ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8"];

    /// <summary>The scenarios the real clients run (<see cref="LoadDriver.Clients"/>).</summary>
    public static readonly IReadOnlyList<string> ClientScenarios = ["S1", "S2", "S3", "S4", "S6", "S7", "S8"];

    /// <summary>The brokers, measured by the same code one after the other (each <see cref="BrokerTarget.Name"/> once). With
    /// two, the report gives the first over the second.</summary>
    public IReadOnlyList<BrokerTarget> Targets { get; init; } = [];

    /// <summary>Raw sockets (the default) or the real clients (<c>--clients</c>).</summary>
    public LoadDriver Driver { get; init; } = LoadDriver.Raw;

    /// <summary>Which scenarios to run (S1 to S9).</summary>
    public IReadOnlyList<string> Scenarios { get; init; } = DefaultScenarios;

    /// <summary>Subscribers in S9 (the fan-out: SSE streams on a <see cref="Surface.Sse"/> target).</summary>
    public int FanOut { get; init; } = 1000;

    /// <summary>Measured runs per scenario and broker; the report gives their medians.</summary>
    public int Runs { get; init; } = 3;

    /// <summary>Length of each measured run.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Length of the unmeasured warm-up run per broker before each scenario's measured runs (Switchboard's JIT tiers up during it).</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The end-to-end window: a publisher pauses while more than this many messages are sent but not yet received by every subscriber.</summary>
    public int WindowMessages { get; init; } = 10_000;

    /// <summary>The same window in payload bytes (the smaller of the two applies), so large messages cannot fill a broker's per-connection buffer.</summary>
    public int WindowBytes { get; init; } = 2 * 1024 * 1024;

    /// <summary>Idle connections opened in S5.</summary>
    public int IdleConnections { get; init; } = 2000;

    /// <summary>Literal subscriptions in S6.</summary>
    public int Subjects { get; init; } = 10_000;

    /// <summary>Requests in flight in S7.</summary>
    public int Concurrency { get; init; } = 64;

    /// <summary>How long S5 waits after opening (and after closing) the connections before reading RSS.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a run waits, after publishing stopped, for what is still in flight.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Kernel clock ticks per second (getconf CLK_TCK) for reading /proc/PID/stat.</summary>
    public int ClockTicksPerSecond { get; init; } = 100;

    /// <summary>Seed of the subject choice in S6 (the same sequence for every broker).</summary>
    public int Seed { get; init; } = 12345;

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        if (Targets.Count == 0)
        {
            throw new ArgumentException("Give at least one broker (--switchboard PORT[:PID], --nats PORT[:PID]).");
        }

        if (Targets.GroupBy(t => t.Name).Any(g => g.Count() > 1))
        {
            throw new ArgumentException("At most one target of each kind and surface.");
        }

        if (Targets.FirstOrDefault(t => t.Surface != Surface.Native && (Driver == LoadDriver.Clients || t.Tls is not null)) is { } gateway)
        {
            throw new ArgumentException($"{gateway.Name} is measured with the raw generator over plain TCP only (neither --clients nor --tls).");
        }

        if (Driver == LoadDriver.Clients && Scenarios.Except(ClientScenarios).FirstOrDefault() is { } notForClients)
        {
            throw new ArgumentException($"{notForClients} has no client version; --clients runs {string.Join(", ", ClientScenarios)}.");
        }

        foreach (var scenario in Scenarios)
        {
            if (!AllScenarios.Contains(scenario))
            {
                throw new ArgumentException($"Unknown scenario '{scenario}'; the scenarios are {string.Join(", ", AllScenarios)}.");
            }
        }

        Check(Runs is >= 1 and <= 100, "runs must be 1 to 100");
        Check(Duration > TimeSpan.Zero && Duration <= TimeSpan.FromMinutes(10), "duration must be above 0 and at most 10 minutes");
        Check(Warmup >= TimeSpan.Zero && Warmup <= TimeSpan.FromMinutes(1), "warm-up must be 0 to 1 minute");
        Check(WindowMessages >= 1, "the window must be at least 1 message");
        Check(WindowBytes >= 1024, "the byte window must be at least 1024");
        Check(IdleConnections is >= 1 and <= 100_000, "idle connections must be 1 to 100000");
        Check(Subjects is >= 1 and <= 60_000, "subjects must be 1 to 60000");
        Check(FanOut is >= 1 and <= 10_000, "the fan-out must be 1 to 10000 subscribers");
        Check(Concurrency is >= 1 and <= RequestScenario.MaxConcurrency, $"concurrency must be 1 to {RequestScenario.MaxConcurrency}");
        Check(ClockTicksPerSecond >= 1, "CLK_TCK must be positive");

        static void Check(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException(message);
            }
        }
    }

    /// <summary>The flow-control window for <paramref name="payloadSize"/>-byte messages.</summary>
    public int WindowFor(int payloadSize) => Math.Max(1, Math.Min(WindowMessages, WindowBytes / Math.Max(1, payloadSize)));
}
