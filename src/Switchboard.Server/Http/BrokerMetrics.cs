using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Switchboard.Server.Http;

/// <summary>
/// The gateway's measurements, twice: <see cref="System.Diagnostics.Metrics"/> instruments on the meter
/// <c>Switchboard.Server</c> (for OpenTelemetry and <c>dotnet-counters</c>), and plain counters that <c>GET /metrics</c>
/// writes as Prometheus text together with what the broker and its router already count.
/// </summary>
internal sealed class BrokerMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Switchboard.Server";

    private readonly Broker _broker;
    private readonly Meter _meter;
    private readonly Counter<long> _messagesIn;
    private readonly Counter<long> _messagesOut;
    private readonly Counter<long> _sseDropped;
    private readonly Histogram<double> _requestDuration;
    private readonly Histogram<double> _gatherDuration;
    private readonly ConcurrentDictionary<(string Endpoint, int Status), StrongBox<long>> _responses = new();
    private readonly ConcurrentDictionary<string, StrongBox<long>> _requestOutcomes = new(StringComparer.Ordinal);
    private long _httpIn;
    private long _httpOut;
    private long _sseListenerDrops;
    private long _sseHistoryOverruns;

    public BrokerMetrics(Broker broker, Func<int> sseClients, Func<int> sseStreams, Func<int> httpSenders)
    {
        _broker = broker;
        SseClients = sseClients;
        SseStreams = sseStreams;
        HttpSenders = httpSenders;
        // Every broker in a process shares the meter's name; its scope is the broker, so a listener can pick its own.
        _meter = new Meter(new MeterOptions(MeterName)
        {
            Version = typeof(BrokerMetrics).Assembly.GetName().Version?.ToString(),
            Scope = broker,
            Tags = [new("switchboard.server", broker.Options.ServerName)],
        });
        _messagesIn = _meter.CreateCounter<long>("switchboard.http.messages.in", "{message}", "Messages triggered through POST /publish.");
        _messagesOut = _meter.CreateCounter<long>("switchboard.http.messages.out", "{message}", "Messages written to SSE clients.");
        _sseDropped = _meter.CreateCounter<long>("switchboard.http.sse.dropped", "{message}", "Messages SSE clients did not get: reason listener_overflow (the stream's listener was full) or history_overrun (a client fell behind the history or resumed past it).");
        _requestDuration = _meter.CreateHistogram<double>("switchboard.http.request.duration", "s", "Duration of POST /request calls, by outcome.");
        _gatherDuration = _meter.CreateHistogram<double>("switchboard.http.gather.duration", "s", "Duration of POST /gather calls.");
        _meter.CreateObservableUpDownCounter("switchboard.connections", () => broker.ConnectionCount, "{connection}", "Client connections open now (binary protocol and JSON lines).");
        _meter.CreateObservableUpDownCounter("switchboard.listeners", () => broker.Router.Listeners.Count, "{listener}", "Listener registrations in the routing index.");
        _meter.CreateObservableUpDownCounter("switchboard.senders", () => broker.Router.GetSenders().Count, "{sender}", "Senders online.");
        _meter.CreateObservableUpDownCounter("switchboard.http.sse.clients", () => SseClients(), "{connection}", "SSE connections open now.");
        _meter.CreateObservableCounter("switchboard.dropped", ObserveDrops, "{message}", "Messages the broker's bus dropped, by reason.");
    }

    public Func<int> SseClients { get; }

    public Func<int> SseStreams { get; }

    public Func<int> HttpSenders { get; }

    public LatencyHistogram RequestLatency { get; } = new();

    public LatencyHistogram GatherLatency { get; } = new();

    public long HttpMessagesIn => Interlocked.Read(ref _httpIn);

    public long HttpMessagesOut => Interlocked.Read(ref _httpOut);

    public long SseListenerDrops => Interlocked.Read(ref _sseListenerDrops);

    public long SseHistoryOverruns => Interlocked.Read(ref _sseHistoryOverruns);

    public void AddMessagesIn(int count)
    {
        Interlocked.Add(ref _httpIn, count);
        _messagesIn.Add(count);
    }

    public void AddMessagesOut(int count)
    {
        Interlocked.Add(ref _httpOut, count);
        _messagesOut.Add(count);
    }

    public void AddSseListenerDrops(long count)
    {
        Interlocked.Add(ref _sseListenerDrops, count);
        _sseDropped.Add(count, new KeyValuePair<string, object?>("reason", "listener_overflow"));
    }

    public void AddSseHistoryOverrun(long count)
    {
        Interlocked.Add(ref _sseHistoryOverruns, count);
        _sseDropped.Add(count, new KeyValuePair<string, object?>("reason", "history_overrun"));
    }

    public void RecordRequest(string outcome, TimeSpan elapsed)
    {
        RequestLatency.Record(elapsed);
        Interlocked.Increment(ref _requestOutcomes.GetOrAdd(outcome, _ => new StrongBox<long>()).Value);
        _requestDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));
    }

    public void RecordGather(TimeSpan elapsed)
    {
        GatherLatency.Record(elapsed);
        _gatherDuration.Record(elapsed.TotalSeconds);
    }

    /// <summary>Counts one answered HTTP call of the gateway (<paramref name="endpoint"/> is one of a fixed set).</summary>
    public void CountResponse(string endpoint, int status) =>
        Interlocked.Increment(ref _responses.GetOrAdd((endpoint, status), _ => new StrongBox<long>()).Value);

    private IEnumerable<Measurement<long>> ObserveDrops()
    {
        var counters = _broker.Counters;
        yield return new Measurement<long>(counters.ListenerDrops, new KeyValuePair<string, object?>("reason", "listener_overflow"));
        yield return new Measurement<long>(counters.LateResults, new KeyValuePair<string, object?>("reason", "late_result"));
        yield return new Measurement<long>(counters.OfflineDrops, new KeyValuePair<string, object?>("reason", "offline"));
        yield return new Measurement<long>(counters.CorruptFrames, new KeyValuePair<string, object?>("reason", "corrupt_frame"));
    }

    /// <summary>Everything, as Prometheus text exposition format 0.0.4.</summary>
    public string ToPrometheusText()
    {
        var text = new PrometheusText();
        var broker = _broker;
        var counters = broker.Counters;

        text.Family("switchboard_info", "gauge", "The broker's name, as a label; always 1.");
        text.Sample("switchboard_info", 1, ("server", broker.Options.ServerName));

        text.Gauge("switchboard_connections", "Client connections open now: binary protocol (TCP, Unix socket, WebSocket, stream carriers) and JSON lines.", broker.ConnectionCount);
        text.Gauge("switchboard_senders", "Senders online on the whole bus.", broker.Router.GetSenders().Count);
        text.Gauge("switchboard_listeners", "Listener registrations in the routing index (a queue group counts once).", broker.Router.Listeners.Count);
        text.Gauge("switchboard_relayed_requests_pending", "Requests from one client to another relayed by the broker and not answered yet.", broker.RelayedRequestsPending);
        text.Gauge("switchboard_http_senders", "Senders registered through POST /senders.", HttpSenders());
        text.Gauge("switchboard_http_sse_clients", "SSE connections open now (GET /events and the dashboard's stream).", SseClients());
        text.Gauge("switchboard_http_sse_streams", "SSE streams alive (one per distinct sender/event query), each with its listener and history.", SseStreams());

        text.Family("switchboard_dropped_messages_total", "counter", "Messages the broker's bus dropped, by reason: listener_overflow (a listener's queue was full or it was cut), late_result (a gather result after its ttl), offline (a client's offline buffer was full), corrupt_frame (a frame failed its CRC on a lossy carrier).");
        text.Sample("switchboard_dropped_messages_total", counters.ListenerDrops, ("reason", "listener_overflow"));
        text.Sample("switchboard_dropped_messages_total", counters.LateResults, ("reason", "late_result"));
        text.Sample("switchboard_dropped_messages_total", counters.OfflineDrops, ("reason", "offline"));
        text.Sample("switchboard_dropped_messages_total", counters.CorruptFrames, ("reason", "corrupt_frame"));
        text.Counter("switchboard_slow_consumers_total", "Connections found slower than MaxOutboundBytes allows (cut or dropped for, by SlowConsumerPolicy).", broker.SlowConsumers);
        text.Counter("switchboard_heartbeat_timeouts_total", "Connections closed because their heartbeats stopped.", broker.HeartbeatTimeouts);
        text.Counter("switchboard_connections_refused_total", "Connections refused for MaxConnections or MaxConnectionsPerAddress.", broker.ConnectionsRefused);
        text.Counter("switchboard_frame_timeouts_total", "Connections cut because a frame or line they began did not complete within FrameTimeout.", broker.FrameTimeouts);
        text.Counter("switchboard_too_large_for_peer_total", "Frames not sent because they were larger than the peer's announced maximum frame size.", broker.TooLargeForPeer);
        text.Counter("switchboard_protocol_errors_total", "Connections closed for breaking the protocol.", broker.ProtocolErrors);
        text.Counter("switchboard_auth_refusals_total", "Connections refused for their credentials.", broker.AuthRefusals);
        text.Counter("switchboard_handler_faults_total", "Listener callbacks on the broker that threw.", counters.HandlerFaults);

        text.Counter("switchboard_messages_in_total", "Messages triggered by clients over the binary protocol and JSON lines (one per event triggered).", broker.MessagesIn);
        text.Counter("switchboard_messages_out_total", "Messages delivered to clients over the binary protocol and JSON lines (one per subscription and message).", broker.MessagesOut);
        text.Counter("switchboard_http_messages_in_total", "Messages triggered through POST /publish (one per event).", HttpMessagesIn);
        text.Counter("switchboard_http_messages_out_total", "Messages written to SSE clients (one per client and message).", HttpMessagesOut);
        text.Family("switchboard_http_sse_dropped_total", "counter", "Messages SSE clients did not get: listener_overflow (a stream's listener was full; also counted in switchboard_dropped_messages_total), history_overrun (a client fell behind the history or resumed from an id it no longer holds; reported to it as an sb-gap event).");
        text.Sample("switchboard_http_sse_dropped_total", SseListenerDrops, ("reason", "listener_overflow"));
        text.Sample("switchboard_http_sse_dropped_total", SseHistoryOverruns, ("reason", "history_overrun"));

        text.Family("switchboard_http_responses_total", "counter", "HTTP gateway calls answered, by endpoint and status code.");
        // ToArray first: it is ConcurrentDictionary's atomic snapshot, while LINQ over the dictionary reads Count, then
        // copies, and throws if a label was added in between (a 500 on /metrics under traffic).
        foreach (var ((endpoint, status), count) in _responses.ToArray().OrderBy(r => r.Key.Endpoint, StringComparer.Ordinal).ThenBy(r => r.Key.Status))
        {
            text.Sample("switchboard_http_responses_total", Interlocked.Read(ref count.Value), ("endpoint", endpoint), ("code", status.ToString(CultureInfo.InvariantCulture)));
        }

        text.Family("switchboard_http_bus_requests_total", "counter", "POST /request calls by outcome: ok, no_sender, no_handler, handler_error, timeout, invalid (refused before asking).");
        foreach (var (outcome, count) in _requestOutcomes.ToArray().OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            text.Sample("switchboard_http_bus_requests_total", Interlocked.Read(ref count.Value), ("outcome", outcome));
        }

        RequestLatency.Write(text, "switchboard_http_bus_request_duration_seconds", "How long POST /request calls took, from the body read to the answer, whatever the outcome.");
        GatherLatency.Write(text, "switchboard_http_gather_duration_seconds", "How long POST /gather calls took.");
        broker.ExtraMetrics?.Invoke(text);

        return text.ToString();
    }

    public void Dispose() => _meter.Dispose();
}

/// <summary>A fixed-bucket latency histogram (Prometheus's <c>le</c> buckets, cumulative when written), lock-free.</summary>
internal sealed class LatencyHistogram
{
    /// <summary>Upper bounds in seconds.</summary>
    public static readonly double[] Bounds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly long[] _buckets = new long[Bounds.Length + 1];
    private long _count;
    private long _sumTicks;

    public long Count => Interlocked.Read(ref _count);

    public void Record(TimeSpan elapsed)
    {
        var seconds = elapsed.TotalSeconds;
        var i = 0;
        while (i < Bounds.Length && seconds > Bounds[i])
        {
            i++;
        }

        Interlocked.Increment(ref _buckets[i]);
        Interlocked.Add(ref _sumTicks, elapsed.Ticks);
        Interlocked.Increment(ref _count);
    }

    public void Write(PrometheusText text, string name, string help)
    {
        text.Family(name, "histogram", help);
        long cumulative = 0;
        for (var i = 0; i < Bounds.Length; i++)
        {
            cumulative += Interlocked.Read(ref _buckets[i]);
            text.Sample(name + "_bucket", cumulative, ("le", Bounds[i].ToString(CultureInfo.InvariantCulture)));
        }

        cumulative += Interlocked.Read(ref _buckets[^1]);
        text.Sample(name + "_bucket", cumulative, ("le", "+Inf"));
        text.Sample(name + "_sum", TimeSpan.FromTicks(Interlocked.Read(ref _sumTicks)).TotalSeconds);
        text.Sample(name + "_count", cumulative);
    }
}

/// <summary>Writes Prometheus text exposition format 0.0.4 by hand: <c># HELP</c>, <c># TYPE</c>, then samples.</summary>
internal sealed class PrometheusText
{
    private readonly StringBuilder _text = new(4096);

    public void Family(string name, string type, string help)
    {
        _text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }

    public void Gauge(string name, string help, double value)
    {
        Family(name, "gauge", help);
        Sample(name, value);
    }

    public void Counter(string name, string help, double value)
    {
        Family(name, "counter", help);
        Sample(name, value);
    }

    public void Sample(string name, double value, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        _text.Append(name);
        if (labels.Length > 0)
        {
            _text.Append('{');
            for (var i = 0; i < labels.Length; i++)
            {
                if (i > 0)
                {
                    _text.Append(',');
                }

                _text.Append(labels[i].Name).Append("=\"");
                foreach (var c in labels[i].Value)
                {
                    _ = c switch
                    {
                        '\\' => _text.Append("\\\\"),
                        '"' => _text.Append("\\\""),
                        '\n' => _text.Append("\\n"),
                        _ => _text.Append(c),
                    };
                }

                _text.Append('"');
            }

            _text.Append('}');
        }

        _text.Append(' ').Append(Format(value)).Append('\n');
    }

    private static string Format(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : double.IsNaN(value) ? "NaN" : value.ToString("R", CultureInfo.InvariantCulture);

    public override string ToString() => _text.ToString();
}

/// <summary>A stopwatch that allocates nothing.</summary>
internal readonly struct ValueStopwatch
{
    private readonly long _start;

    private ValueStopwatch(long start) => _start = start;

    public static ValueStopwatch StartNew() => new(Stopwatch.GetTimestamp());

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_start);
}
