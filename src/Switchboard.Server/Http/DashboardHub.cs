using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Switchboard.Server.Http;

/// <summary>
/// Feeds the dashboard's SSE stream (<c>/dashboard/stream</c>): while at least one dashboard is open, a bus-broadcast
/// listener (a bounded queue, <see cref="OverflowPolicy.DropNewest"/>) counts messages per sender and event, and one
/// loop encodes a JSON snapshot every <see cref="HttpGatewayOptions.DashboardInterval"/> (and at once when a sender
/// connects or leaves) that every open dashboard receives. With no dashboard open, nothing of this runs, so the
/// broker's hot path pays nothing for it.
/// </summary>
internal sealed class DashboardHub : IAsyncDisposable
{
    /// <summary>Distinct (sender, event) pairs counted; more are counted together under sender "*", event "(other)".</summary>
    private const int MaxRateKeys = 1000;

    /// <summary>Rows of the rate table sent in a snapshot.</summary>
    private const int MaxRateRows = 200;

    private readonly Lock _lock = new();
    private readonly HttpGateway _gateway;
    private Session? _session;
    private int _clients;
    private bool _disposed;

    public DashboardHub(HttpGateway gateway) => _gateway = gateway;

    /// <summary>Joins the live session (starting it for the first dashboard); pair with <see cref="Leave"/>.</summary>
    public Session Join()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _clients++;
            if (_session is null)
            {
                _session = new Session(_gateway);
                _session.Start();
            }

            return _session;
        }
    }

    public void Leave()
    {
        Session? stop = null;
        lock (_lock)
        {
            if (--_clients == 0)
            {
                stop = _session;
                _session = null;
            }
        }

        if (stop is not null)
        {
            _ = stop.StopAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Session? stop;
        lock (_lock)
        {
            _disposed = true;
            stop = _session;
            _session = null;
        }

        if (stop is not null)
        {
            await stop.StopAsync();
        }
    }

    /// <summary>The tap and the snapshot loop, alive while dashboards are open.</summary>
    internal sealed class Session
    {
        private readonly HttpGateway _gateway;
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentDictionary<(string Sender, string Event), StrongBox<long>> _counts = new();
        private readonly StrongBox<long> _other = new();
        private readonly Dictionary<(string Sender, string Event), long> _previous = [];
        private readonly Lock _lock = new();
        private List<(string Sender, string Event, double Rate, long Total)> _rates = [];
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private IListener? _tap;
        private Task _loop = Task.CompletedTask;
        private long _version;
        private byte[] _frame = [];
        private double _totalRate;

        public Session(HttpGateway gateway) => _gateway = gateway;

        public void Start() => _loop = RunAsync();

        /// <summary>The newest snapshot frame and its version (0: none yet).</summary>
        public (long Version, byte[] Frame) Latest
        {
            get
            {
                lock (_lock)
                {
                    return (_version, _frame);
                }
            }
        }

        public Task ChangedAfter(long version)
        {
            lock (_lock)
            {
                return _version > version ? Task.CompletedTask : _changed.Task;
            }
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _stop.Dispose();
        }

        private async Task RunAsync()
        {
            var time = _gateway.Time;
            var interval = _gateway.Options.DashboardInterval;
            try
            {
                _tap = await _gateway.Bus.ListenAsync(null, null, Count, new ListenerOptions { Capacity = 4096, Overflow = OverflowPolicy.DropNewest, ReceiveRetained = false }, _stop.Token);
                var lastTick = time.GetTimestamp();
                Publish(time.GetElapsedTime(lastTick));
                while (!_stop.IsCancellationRequested)
                {
                    var remaining = interval - time.GetElapsedTime(lastTick);
                    Task wake;
                    lock (_lock)
                    {
                        wake = _wake.Task;
                    }

                    if (remaining > TimeSpan.Zero)
                    {
                        try
                        {
                            await wake.WaitAsync(remaining, time, _stop.Token);
                            lock (_lock)
                            {
                                _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                            }

                            // A presence change: a snapshot now, with the rates of the last full tick.
                            Publish(null);
                            continue;
                        }
                        catch (TimeoutException)
                        {
                        }
                    }

                    var elapsed = time.GetElapsedTime(lastTick);
                    lastTick = time.GetTimestamp();
                    Publish(elapsed);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
            finally
            {
                if (_tap is { } tap)
                {
                    await tap.DisposeAsync();
                }
            }
        }

        /// <summary>The tap's callback: counts, and wakes the loop on presence changes. Allocates nothing for known pairs.</summary>
        private ValueTask Count(BusMessage message, CancellationToken cancellationToken)
        {
            var key = (message.Sender, message.Event);
            if (_counts.TryGetValue(key, out var count) || (_counts.Count < MaxRateKeys && (count = _counts.GetOrAdd(key, _ => new StrongBox<long>())) is not null))
            {
                Interlocked.Increment(ref count.Value);
            }
            else
            {
                Interlocked.Increment(ref _other.Value);
            }

            if (message.Event is NameRules.ConnectEvent or NameRules.DisconnectEvent)
            {
                TaskCompletionSource wake;
                lock (_lock)
                {
                    wake = _wake;
                }

                wake.TrySetResult();
            }

            return default;
        }

        /// <summary>Computes rates over <paramref name="elapsed"/> (null: keep the last ones) and publishes a snapshot.</summary>
        private void Publish(TimeSpan? elapsed)
        {
            if (elapsed is { } span)
            {
                var seconds = Math.Max(span.TotalSeconds, 0.001);
                var rates = new List<(string, string, double, long)>(_counts.Count + 1);
                double total = 0;
                foreach (var (key, box) in _counts.Append(new(("*", "(other)"), _other)))
                {
                    var now = Interlocked.Read(ref box.Value);
                    var before = _previous.GetValueOrDefault(key);
                    _previous[key] = now;
                    var rate = (now - before) / seconds;
                    total += rate;
                    if (now > 0)
                    {
                        rates.Add((key.Sender, key.Event, rate, now));
                    }
                }

                _rates = [.. rates.OrderByDescending(r => r.Item3).ThenByDescending(r => r.Item4).Take(MaxRateRows)];
                _totalRate = total;
            }

            var frame = Encode();
            TaskCompletionSource changed;
            lock (_lock)
            {
                _version++;
                _frame = frame;
                changed = _changed;
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            changed.TrySetResult();
        }

        private byte[] Encode()
        {
            var gateway = _gateway;
            var broker = gateway.Broker;
            var counters = broker.Counters;
            var metrics = gateway.Metrics;
            var buffer = new ArrayBufferWriter<byte>(4096);
            buffer.Write("event: snapshot\ndata: "u8);
            using (var json = new Utf8JsonWriter(buffer, HttpJson.WriterOptions))
            {
                json.WriteStartObject();
                json.WriteString("server", broker.Options.ServerName);
                json.WriteString("time", gateway.Time.GetUtcNow());
                json.WriteNumber("connections", broker.ConnectionCount);
                // Not counting this dashboard's own tap: watching should not change what is shown.
                json.WriteNumber("listeners", Math.Max(0, broker.Router.Listeners.Count - (_tap is null ? 0 : 1)));
                json.WriteNumber("sse_clients", gateway.SseClients);
                WriteSenders(json, gateway);
                WriteRates(json);
                WriteStreams(json, gateway);
                json.WriteStartObject("drops");
                json.WriteNumber("listener_overflow", counters.ListenerDrops);
                json.WriteNumber("late_results", counters.LateResults);
                json.WriteNumber("offline", counters.OfflineDrops);
                json.WriteNumber("corrupt_frames", counters.CorruptFrames);
                json.WriteNumber("slow_consumers", broker.SlowConsumers);
                json.WriteNumber("sse_listener_overflow", metrics.SseListenerDrops);
                json.WriteNumber("sse_history_overrun", metrics.SseHistoryOverruns);
                json.WriteEndObject();
                json.WriteStartObject("errors");
                json.WriteNumber("handler_faults", counters.HandlerFaults);
                json.WriteNumber("heartbeat_timeouts", broker.HeartbeatTimeouts);
                json.WriteNumber("protocol_errors", broker.ProtocolErrors);
                json.WriteEndObject();
                json.WriteStartObject("http");
                json.WriteNumber("messages_in", metrics.HttpMessagesIn);
                json.WriteNumber("messages_out", metrics.HttpMessagesOut);
                json.WriteNumber("requests", metrics.RequestLatency.Count);
                json.WriteNumber("gathers", metrics.GatherLatency.Count);
                json.WriteEndObject();
                json.WriteEndObject();
            }

            buffer.Write("\n\n"u8);
            return buffer.WrittenSpan.ToArray();
        }

        private static void WriteSenders(Utf8JsonWriter json, HttpGateway gateway)
        {
            json.WriteStartArray("senders");
            foreach (var sender in gateway.Broker.Router.GetSenders())
            {
                json.WriteStartObject();
                json.WriteString("name", sender.Name);
                HttpJson.WriteStrings(json, "events", sender.Events);
                HttpJson.WriteStrings(json, "requests", sender.Requests);
                json.WriteBoolean("default_handler", sender.HasDefaultHandler);
                json.WriteBoolean("http", gateway.IsHttpSender(sender.Name));
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        private void WriteRates(Utf8JsonWriter json)
        {
            json.WriteNumber("rate_total", Math.Round(_totalRate, 2));
            json.WriteStartArray("rates");
            foreach (var (sender, name, rate, total) in _rates)
            {
                json.WriteStartObject();
                json.WriteString("sender", sender);
                json.WriteString("event", name);
                json.WriteNumber("per_second", Math.Round(rate, 2));
                json.WriteNumber("total", total);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        private static void WriteStreams(Utf8JsonWriter json, HttpGateway gateway)
        {
            json.WriteStartArray("streams");
            foreach (var stream in gateway.Streams.Snapshot())
            {
                json.WriteStartObject();
                json.WriteString("sender", stream.Key.Sender);
                json.WriteString("event", stream.Key.Event);
                json.WriteNumber("clients", stream.Clients);
                json.WriteNumber("history", stream.HistoryCount);
                json.WriteNumber("last_id", stream.LastSeq);
                json.WriteNumber("dropped", stream.Dropped);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }
    }
}
