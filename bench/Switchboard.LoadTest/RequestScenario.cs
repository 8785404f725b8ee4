using System.Buffers;
using System.Diagnostics;

namespace Switchboard.LoadTest;

/// <summary>
/// S4 and S7: a closed loop of <c>concurrency</c> requests in flight from one requester connection to one responder
/// connection through the broker. Each reply is timed (send to receipt, Stopwatch) and, until the deadline, replaced
/// by a new request. The responder answers every request of a received chunk with one send.
/// </summary>
internal sealed class RequestScenario : Scenario
{
    public const int MaxConcurrency = 1 << SlotBits;
    private const int SlotBits = 10;
    private const int MaxLatencies = 50_000_000;
    private readonly int _concurrency;
    private readonly int _payloadSize;

    public RequestScenario(string id, string title, int concurrency, int payloadSize)
        : base(id, title)
    {
        _concurrency = concurrency;
        _payloadSize = payloadSize;
    }

    public override RunMeasurement Run(BrokerTarget target, LoadOptions options, TimeSpan duration, bool warmup)
    {
        var tag = NextTag(Id);
        var payload = MakePayload(_payloadSize);
        var service = "echo-" + tag;
        using var set = new ConnectionSet(target);
        var responder = set.Open("responder-" + tag);
        responder.Setup((codec, output) => codec.WriteResponderSetup(output, service), ConnectionSet.SetupTimeout);
        responder.Handler = new Responder(payload);
        var requesterConnection = set.Open("requester-" + tag);
        requesterConnection.Setup((codec, output) => codec.WriteRequesterSetup(output, "_INBOX." + tag), ConnectionSet.SetupTimeout);
        set.StartReceiving(responder);
        requesterConnection.KeepAlive = true;

        var start = CpuSample.Take(target, options);
        var deadline = Deadline(start.Timestamp, duration);
        var requester = new Requester(requesterConnection, service, payload, _concurrency, deadline);
        requesterConnection.Handler = requester;
        Exception? loopError = null;
        var loop = new Thread(() =>
        {
            try
            {
                requester.Run(deadline + (long)(options.DrainTimeout.TotalSeconds * Stopwatch.Frequency));
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ObjectDisposedException or IOException or InvalidDataException or Wire.ProtocolException)
            {
                loopError = ex;
            }
        })
        {
            IsBackground = true,
            Name = "request " + tag,
        };
        loop.Start();
        SleepUntil(deadline);
        var end = CpuSample.Take(target, options);
        loop.Join(options.DrainTimeout + TimeSpan.FromSeconds(15));
        var (errors, first) = set.CollectErrors();
        errors += requester.Unexpected; // failed replies are already counted as errors by the connection
        if (loopError is not null)
        {
            errors++;
            first ??= "requester: " + loopError.Message;
        }

        if (requester.Unexpected > 0)
        {
            first ??= $"{requester.Unexpected} replies matched no request in flight";
        }

        var latencies = requester.Latencies;
        Array.Sort(latencies);
        var seconds = (double)(deadline - start.Timestamp) / Stopwatch.Frequency;
        var completed = requester.CompletedInWindow;
        return new RunMeasurement
        {
            Seconds = seconds,
            Sent = requester.Sent,
            Received = completed,
            Loss = requester.Sent - requester.Completed,
            Rate = completed / seconds,
            P50Us = Percentile(latencies, 0.50),
            P99Us = Percentile(latencies, 0.99),
            P999Us = Percentile(latencies, 0.999),
            BrokerCpuNsPerOp = end.BrokerNsSince(start) is { } ns && completed > 0 ? ns / completed : null,
            BrokerCpuPercent = end.BrokerPercentSince(start),
            GeneratorCpuPercent = end.SelfPercentSince(start),
            Errors = errors,
            FirstError = first,
        };
    }

    /// <summary>Nearest-rank percentile of sorted Stopwatch ticks, in microseconds.</summary>
    internal static double? Percentile(long[] sorted, double quantile)
    {
        if (sorted.Length == 0)
        {
            return null;
        }

        var rank = (int)Math.Ceiling(quantile * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)] * 1e6 / Stopwatch.Frequency;
    }

    private sealed class Responder(byte[] payload) : IInboundHandler
    {
        private readonly ArrayBufferWriter<byte> _replies = new(64 * 1024);

        public void OnRequest(BenchConnection connection, ReadOnlySpan<byte> replyTo, int payloadLength) =>
            connection.Codec.WriteReply(_replies, replyTo, payload);

        public void OnChunkParsed(BenchConnection connection)
        {
            if (_replies.WrittenCount > 0)
            {
                connection.Send(_replies.WrittenSpan);
                _replies.ResetWrittenCount();
            }
        }
    }

    /// <summary>Runs on one thread: issues, receives, times and re-issues. Request ids are generation &lt;&lt; 10 | slot, so a reply finds its slot and a stale one is detected.</summary>
    private sealed class Requester : IInboundHandler
    {
        private readonly BenchConnection _connection;
        private readonly string _service;
        private readonly byte[] _payload;
        private readonly int _concurrency;
        private readonly long _deadline;
        private readonly long[] _sentAt;
        private readonly uint[] _generation;
        private readonly bool[] _inFlight;
        private readonly ArrayBufferWriter<byte> _batch = new(64 * 1024);
        private long[] _latencies = new long[1 << 16];
        private int _latencyCount;
        private int _outstanding;

        public Requester(BenchConnection connection, string service, byte[] payload, int concurrency, long deadline)
        {
            _connection = connection;
            _service = service;
            _payload = payload;
            _concurrency = concurrency;
            _deadline = deadline;
            _sentAt = new long[concurrency];
            _generation = new uint[concurrency];
            _inFlight = new bool[concurrency];
        }

        public long Sent { get; private set; }

        public long Completed { get; private set; }

        public long CompletedInWindow { get; private set; }

        public int Unexpected { get; private set; }

        public int Failed { get; private set; }

        public long[] Latencies => _latencies[.._latencyCount];

        public void Run(long hardStop)
        {
            for (var slot = 0; slot < _concurrency; slot++)
            {
                Issue(slot, Stopwatch.GetTimestamp());
            }

            Flush();
            while (true)
            {
                var now = Stopwatch.GetTimestamp();
                if ((_outstanding == 0 && now >= _deadline) || now >= hardStop)
                {
                    return;
                }

                if (_connection.ReceiveOnce() == 0)
                {
                    return;
                }
            }
        }

        public void OnReply(uint id, bool ok)
        {
            var now = Stopwatch.GetTimestamp();
            var slot = (int)(id & (MaxConcurrency - 1));
            if (slot >= _concurrency || !_inFlight[slot] || _generation[slot] != id >> SlotBits)
            {
                Unexpected++;
                return;
            }

            _inFlight[slot] = false;
            _outstanding--;
            Completed++;
            if (!ok)
            {
                Failed++;
            }

            if (now <= _deadline)
            {
                CompletedInWindow++;
                if (_latencyCount < MaxLatencies)
                {
                    if (_latencyCount == _latencies.Length)
                    {
                        Array.Resize(ref _latencies, _latencies.Length * 2);
                    }

                    _latencies[_latencyCount++] = now - _sentAt[slot];
                }

                Issue(slot, Stopwatch.GetTimestamp());
            }
        }

        public void OnChunkParsed(BenchConnection connection) => Flush();

        private void Issue(int slot, long now)
        {
            var generation = _generation[slot] = (_generation[slot] % ((1u << (32 - SlotBits)) - 1)) + 1;
            _connection.Codec.WriteRequest(_batch, _service, (generation << SlotBits) | (uint)slot, _payload);
            _sentAt[slot] = now;
            _inFlight[slot] = true;
            _outstanding++;
            Sent++;
        }

        private void Flush()
        {
            if (_batch.WrittenCount > 0)
            {
                _connection.Send(_batch.WrittenSpan);
                _batch.ResetWrittenCount();
            }
        }
    }
}
