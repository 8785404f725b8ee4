using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Switchboard.Server;

namespace Switchboard.Cli.Commands;

/// <summary>What <c>serve</c>'s tuning flags set: the broker's heartbeat and the HTTP gateway's limits and timings.</summary>
/// <param name="HeartbeatInterval"><see cref="BrokerOptions.HeartbeatInterval"/>.</param>
/// <param name="HeartbeatMisses"><see cref="BrokerOptions.HeartbeatMisses"/>.</param>
/// <param name="Http"><see cref="BrokerOptions.Http"/>.</param>
/// <param name="Limits">What one peer may take and hold.</param>
/// <param name="Retained">How retained values are bounded and how long they live.</param>
public sealed record BrokerTuning(TimeSpan HeartbeatInterval, int HeartbeatMisses, HttpGatewayOptions Http, PeerLimits Limits, RetainedLimits Retained)
{
    /// <summary><paramref name="options"/> with every tuned value set.</summary>
    public BrokerOptions ApplyTo(BrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options with
        {
            HeartbeatInterval = HeartbeatInterval,
            HeartbeatMisses = HeartbeatMisses,
            Http = Http,
            MaxOutboundBytes = Limits.MaxOutboundBytes,
            FrameTimeout = Limits.FrameTimeout,
            MaxConnections = Limits.MaxConnections,
            MaxConnectionsPerAddress = Limits.MaxConnectionsPerAddress,
            MaxSendersPerConnection = Limits.MaxSendersPerConnection,
            MaxSubscriptionsPerConnection = Limits.MaxSubscriptionsPerConnection,
            MaxProducersPerConnection = Limits.MaxProducersPerConnection,
            MaxRequestsPerSecond = Limits.MaxRequestsPerSecond,
            Bus = options.Bus with
            {
                MaxRetained = Retained.MaxRetained,
                MaxRetainedValueBytes = Retained.MaxRetainedValueBytes,
                MaxRetainedBytes = Retained.MaxRetainedBytes,
                RetainedLifetime = Retained.Lifetime,
            },
        };
    }
}

/// <summary>The retained-value settings of <see cref="BusOptions"/> that <c>serve</c> sets.</summary>
/// <param name="MaxRetained"><see cref="BusOptions.MaxRetained"/>.</param>
/// <param name="MaxRetainedValueBytes"><see cref="BusOptions.MaxRetainedValueBytes"/>.</param>
/// <param name="MaxRetainedBytes"><see cref="BusOptions.MaxRetainedBytes"/>.</param>
/// <param name="Lifetime"><see cref="BusOptions.RetainedLifetime"/>.</param>
public sealed record RetainedLimits(int MaxRetained, long MaxRetainedValueBytes, long MaxRetainedBytes, RetainedLifetime Lifetime);

/// <summary>The <see cref="BrokerOptions"/> bounds on one peer that <c>serve</c> sets (see docs/protocol.md §9).</summary>
/// <param name="MaxOutboundBytes"><see cref="BrokerOptions.MaxOutboundBytes"/>.</param>
/// <param name="FrameTimeout"><see cref="BrokerOptions.FrameTimeout"/>.</param>
/// <param name="MaxConnections"><see cref="BrokerOptions.MaxConnections"/>.</param>
/// <param name="MaxConnectionsPerAddress"><see cref="BrokerOptions.MaxConnectionsPerAddress"/>.</param>
/// <param name="MaxSendersPerConnection"><see cref="BrokerOptions.MaxSendersPerConnection"/>.</param>
/// <param name="MaxSubscriptionsPerConnection"><see cref="BrokerOptions.MaxSubscriptionsPerConnection"/>.</param>
/// <param name="MaxProducersPerConnection"><see cref="BrokerOptions.MaxProducersPerConnection"/>.</param>
/// <param name="MaxRequestsPerSecond"><see cref="BrokerOptions.MaxRequestsPerSecond"/> (null: no limit).</param>
public sealed record PeerLimits(long MaxOutboundBytes, TimeSpan FrameTimeout, int MaxConnections, int MaxConnectionsPerAddress,
    int MaxSendersPerConnection, int MaxSubscriptionsPerConnection, int MaxProducersPerConnection, int? MaxRequestsPerSecond);

/// <summary>
/// <c>serve</c>'s flags for <see cref="BrokerOptions.HeartbeatInterval"/>, <see cref="BrokerOptions.HeartbeatMisses"/> and
/// the <see cref="HttpGatewayOptions"/> a user would set. Defaults are the options' own; each value is checked against the
/// same rules the options enforce, so a bad one is a one-line usage error naming the flag, never an exception later.
/// </summary>
public sealed class ServeTuning
{
    /// <summary>Linux caps TCP_KEEPIDLE at 32767 s; the JSON-lines gateway sets it to interval × misses.</summary>
    private const int MaxKeepAliveSeconds = 32_767;

    private static readonly BrokerOptions Broker = new();
    private static readonly HttpGatewayOptions Http = HttpGatewayOptions.Default;

    private readonly Option<int> _heartbeatInterval = Number("--heartbeat-interval-ms", "MS", Ms(Broker.HeartbeatInterval), 100, 3_600_000,
        "How often the broker pings a quiet connection (it also tells clients in WELCOME)");

    private readonly Option<int> _heartbeatMisses = Number("--heartbeat-misses", "N", Broker.HeartbeatMisses, 1, 100,
        "How many heartbeat intervals of silence make a connection dead: it is cut, its senders leave and their last wills fire");

    private readonly Option<int> _maxBody = Number("--http-max-body-bytes", "BYTES", Http.MaxBodyBytes, 64, int.MaxValue,
        "The largest HTTP request body accepted; a larger one is answered 413 body_too_large");

    private readonly Option<int> _maxSenders = Number("--http-max-senders", "N", Http.MaxSenders, 0, int.MaxValue,
        "The most senders registered over HTTP (POST /senders) at once");

    private readonly Option<int> _maxWait = Number("--http-max-wait-ms", "MS", Ms(Http.MaxWait), 1, int.MaxValue,
        "The longest timeout_ms of POST /request and ttl_ms of POST /gather");

    private readonly Option<int> _sseHistory = Number("--sse-history", "N", Http.SseHistory, 1, int.MaxValue,
        "How many messages each SSE stream keeps for Last-Event-ID resume");

    private readonly Option<int> _sseHistoryBytes = Number("--sse-history-bytes", "BYTES", (int)Http.SseHistoryBytes, 1024, int.MaxValue,
        "The most bytes each SSE stream's resume history may hold (the oldest go first)");

    private readonly Option<int> _sseStreams = Number("--sse-max-streams", "N", Http.MaxSseStreams, 1, int.MaxValue,
        "The most SSE streams (distinct sender/event queries) alive at once; the one idle longest is retired for a new one, else 503");

    private readonly Option<int> _sseClients = Number("--sse-max-clients", "N", Http.MaxSseClients, 1, int.MaxValue,
        "The most SSE connections (event streams and dashboards) open at once; more get 503");

    private readonly Option<int> _sseClientsPerAddress = Number("--sse-max-clients-per-address", "N", Http.MaxSseClientsPerAddress, 1, int.MaxValue,
        "The most SSE connections open at once from one IP address; more from it get 429");

    private readonly Option<int> _sseGrace = Number("--sse-grace-ms", "MS", Ms(Http.SseStreamGrace), 0, int.MaxValue,
        "How long an SSE stream with no client left keeps recording, so a client that reconnects finds what it missed");

    private readonly Option<int> _sseKeepAlive = Number("--sse-keepalive-ms", "MS", Ms(Http.SseKeepAlive), 1, int.MaxValue,
        "How often an idle SSE connection gets a keep-alive comment (keep it under your proxies' idle timeout)");

    private readonly Option<int> _sseRetry = Number("--sse-retry-ms", "MS", Ms(Http.SseRetry), 1, int.MaxValue,
        "The reconnection delay sent to SSE clients (retry:)");

    private readonly Option<int> _maxOutbound = Number("--max-outbound-bytes", "BYTES", (int)Broker.MaxOutboundBytes, 64 * 1024, int.MaxValue,
        "The bytes of deliveries one connection may be owed before it is a slow consumer; answers get as much again, then it is cut");

    private readonly Option<int> _frameTimeout = Number("--frame-timeout-ms", "MS", Ms(Broker.FrameTimeout), 100, int.MaxValue,
        "How long one frame or JSON line may take to arrive once it began; a peer trickling bytes is cut with frame_timeout");

    private readonly Option<int> _maxConnections = Number("--max-connections", "N", Broker.MaxConnections, 1, int.MaxValue,
        "The most client connections open at once (every protocol); one more is told too_many and closed");

    private readonly Option<int> _maxPerAddress = Number("--max-connections-per-address", "N", Broker.MaxConnectionsPerAddress, 1, int.MaxValue,
        "The most client connections from one IP address at once");

    private readonly Option<int> _maxPeerSenders = Number("--max-senders-per-connection", "N", Broker.MaxSendersPerConnection, 1, int.MaxValue,
        "The most senders one connection may hold");

    private readonly Option<int> _maxPeerListens = Number("--max-listens-per-connection", "N", Broker.MaxSubscriptionsPerConnection, 1, int.MaxValue,
        "The most listens one connection may hold");

    private readonly Option<int> _maxPeerProducers = Number("--max-producers-per-connection", "N", Broker.MaxProducersPerConnection, 1, int.MaxValue,
        "The most producers one connection may hold");

    private readonly Option<int> _maxRequestRate = Number("--max-requests-per-second", "N", Broker.MaxRequestsPerSecond ?? 0, 0, int.MaxValue,
        "How many requests, gathers and sender lists one connection may ask per second (0: no limit); past it, too_many");

    private readonly Option<int> _maxRetained = Number("--max-retained", "N", BusOptions.Default.MaxRetained, 0, int.MaxValue,
        "The most retained values the broker keeps (one per sender and event); past it a new retained trigger is refused with too_many");

    private readonly Option<int> _maxRetainedValue = Number("--max-retained-value-bytes", "BYTES", (int)BusOptions.Default.MaxRetainedValueBytes, 0, int.MaxValue,
        "The most bytes one retained value may take");

    private readonly Option<int> _maxRetainedBytes = Number("--max-retained-bytes", "BYTES", (int)BusOptions.Default.MaxRetainedBytes, 0, int.MaxValue,
        "The most bytes all retained values together may take");

    private readonly Option<RetainedLifetime> _retainedLifetime = new("--retained-lifetime")
    {
        Description = "How long a retained value lives: UntilCleared (as in MQTT) or WhileSenderOnline.",
        HelpName = "LIFETIME",
        DefaultValueFactory = _ => BusOptions.Default.RetainedLifetime,
    };

    /// <summary>Adds the flags, and the check that spans two of them, to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        foreach (var option in new[]
        {
            _heartbeatInterval, _heartbeatMisses, _maxBody, _maxSenders, _maxWait, _sseHistory, _sseHistoryBytes, _sseStreams, _sseClients, _sseClientsPerAddress, _sseGrace, _sseKeepAlive, _sseRetry,
            _maxOutbound, _frameTimeout, _maxConnections, _maxPerAddress, _maxPeerSenders, _maxPeerListens, _maxPeerProducers, _maxRequestRate,
            _maxRetained, _maxRetainedValue, _maxRetainedBytes,
        })
        {
            command.Options.Add(option);
        }

        command.Options.Add(_retainedLifetime);

        command.Validators.Add(CheckHeartbeatSpan);
    }

    /// <summary>The values given (or defaulted).</summary>
    public BrokerTuning Read(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new BrokerTuning(
            TimeSpan.FromMilliseconds(result.GetValue(_heartbeatInterval)),
            result.GetValue(_heartbeatMisses),
            ReadHttp(result),
            ReadLimits(result),
            new RetainedLimits(result.GetValue(_maxRetained), result.GetValue(_maxRetainedValue), result.GetValue(_maxRetainedBytes), result.GetValue(_retainedLifetime)));
    }

    private PeerLimits ReadLimits(ParseResult result) => new(
        result.GetValue(_maxOutbound),
        TimeSpan.FromMilliseconds(result.GetValue(_frameTimeout)),
        result.GetValue(_maxConnections),
        result.GetValue(_maxPerAddress),
        result.GetValue(_maxPeerSenders),
        result.GetValue(_maxPeerListens),
        result.GetValue(_maxPeerProducers),
        result.GetValue(_maxRequestRate) is > 0 and var rate ? rate : null);

    private HttpGatewayOptions ReadHttp(ParseResult result) => Http with
    {
        MaxBodyBytes = result.GetValue(_maxBody),
        MaxSenders = result.GetValue(_maxSenders),
        MaxWait = TimeSpan.FromMilliseconds(result.GetValue(_maxWait)),
        SseHistory = result.GetValue(_sseHistory),
        SseHistoryBytes = result.GetValue(_sseHistoryBytes),
        MaxSseStreams = result.GetValue(_sseStreams),
        MaxSseClients = result.GetValue(_sseClients),
        MaxSseClientsPerAddress = result.GetValue(_sseClientsPerAddress),
        SseStreamGrace = TimeSpan.FromMilliseconds(result.GetValue(_sseGrace)),
        SseKeepAlive = TimeSpan.FromMilliseconds(result.GetValue(_sseKeepAlive)),
        SseRetry = TimeSpan.FromMilliseconds(result.GetValue(_sseRetry)),
    };

    /// <summary>An integer option's value; false when its text is no integer (the parser reports that itself, and
    /// <see cref="OptionResult.GetValueOrDefault{T}"/> would throw).</summary>
    internal static bool TryGetInt(OptionResult result, out int value)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.Tokens.Count == 0)
        {
            value = result.GetValueOrDefault<int>(); // the default
            return true;
        }

        return int.TryParse(result.Tokens[^1].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out value);
    }

    private void CheckHeartbeatSpan(CommandResult result)
    {
        if (!TryGet(result, _heartbeatInterval, out var interval) || !TryGet(result, _heartbeatMisses, out var misses))
        {
            return;
        }

        var seconds = (long)Math.Ceiling(interval / 1000.0) * misses;
        if (seconds > MaxKeepAliveSeconds)
        {
            result.AddError(string.Create(CultureInfo.InvariantCulture,
                $"--heartbeat-interval-ms {interval} x --heartbeat-misses {misses} is {seconds} s of silence; at most {MaxKeepAliveSeconds} s (the kernel's TCP keepalive limit, which the JSON-lines gateway follows)."));
        }
    }

    private static bool TryGet(CommandResult command, Option<int> option, out int value)
    {
        if (command.GetResult(option) is { } result)
        {
            return TryGetInt(result, out value);
        }

        value = option.DefaultValueFactory!(null!);
        return true;
    }

    private static int Ms(TimeSpan value) => (int)value.TotalMilliseconds;

    /// <summary>An integer flag with a range; a value outside it is an error naming the flag, the value and the range.</summary>
    internal static Option<int> Number(string name, string helpName, int defaultValue, int min, int max, string description)
    {
        var range = max == int.MaxValue ? $"at least {min}" : $"{min} to {max}";
        var option = new Option<int>(name)
        {
            Description = $"{description}; {range}.",
            HelpName = helpName,
            DefaultValueFactory = _ => defaultValue,
        };
        option.Validators.Add(result =>
        {
            if (TryGetInt(result, out var value) && (value < min || value > max))
            {
                result.AddError(string.Create(CultureInfo.InvariantCulture, $"{name} {value} is out of range: use {range}."));
            }
        });
        return option;
    }
}
