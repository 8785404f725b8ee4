using System.Buffers;
using System.Diagnostics;

namespace Switchboard.LoadTest;

/// <summary>
/// S1, S2, S3, S6, S8, S9: one publisher thread pipelines pre-encoded publications in batches of up to 64 KiB per send,
/// inside the end-to-end <see cref="FlowWindow"/>; each subscriber has a receive thread that counts deliveries.
/// Stamped (S9), each batch's payloads carry its send time and every subscriber times each delivery.
/// </summary>
internal sealed class PubSubScenario : Scenario
{
    /// <summary>S6's wildcard subscriptions: the matcher has to consult them, and none matches <c>roomN.temp</c>, so each publication is delivered once.</summary>
    public static readonly IReadOnlyList<string> Wildcards = ["*.humidity", "*.*.temp", "room1.*.temp", "zone.>"];

    /// <summary>S8's wildcard subscriptions: <c>site.*.humidity</c> alone matches the humidity subjects (a tenth of the
    /// publications); the other three match nothing published, as in S6.</summary>
    public static readonly IReadOnlyList<string> MixWildcards = ["site.*.humidity", "*.*.alarm", "site.hall.>", "zone.>"];

    private const int BatchBytes = 64 * 1024;
    private readonly int _payloadSize;
    private readonly int _subscribers;
    private readonly SubjectMix _mix;
    private readonly bool _stamped;

    public PubSubScenario(string id, string title, int payloadSize, int subscribers, SubjectMix mix, bool stamped = false)
        : base(id, title)
    {
        _payloadSize = Math.Max(payloadSize, stamped ? LatencyHistogram.StampLength : 0);
        _subscribers = subscribers;
        _mix = mix;
        _stamped = stamped;
    }

    /// <summary>Which subjects are published and subscribed.</summary>
    public enum SubjectMix
    {
        /// <summary>S1–S3, S9: one subject, <c>bench</c>.</summary>
        One,

        /// <summary>S6: <c>--subjects</c> literal subjects <c>room&lt;i&gt;.temp</c>, plus <see cref="Wildcards"/>.</summary>
        Literal,

        /// <summary>S8: <c>--subjects</c> literal three-token subjects <c>site.room&lt;i&gt;.temp</c> plus one humidity
        /// subject for every nine of them, reached only through <c>site.*.humidity</c> (<see cref="MixWildcards"/>).</summary>
        WildcardMix,
    }

    public int PayloadSize => _payloadSize;

    /// <summary>What is published and what is subscribed (see <see cref="SubjectMix"/>).</summary>
    public static (string[] Published, string[] Subscribed) SubjectsOf(SubjectMix mix, LoadOptions options)
    {
        var count = options.Subjects;
        switch (mix)
        {
            case SubjectMix.Literal:
                var rooms = Enumerable.Range(0, count).Select(i => $"room{i}.temp").ToArray();
                return (rooms, [.. rooms, .. Wildcards]);
            case SubjectMix.WildcardMix:
                var literal = Enumerable.Range(0, count).Select(i => $"site.room{i}.temp").ToArray();
                var viaWildcard = Enumerable.Range(0, Math.Max(1, count / 9)).Select(i => $"site.room{i}.humidity");
                return ([.. literal, .. viaWildcard], [.. literal, .. MixWildcards]);
            default:
                return (["bench"], ["bench"]);
        }
    }

    public override RunMeasurement Run(BrokerTarget target, LoadOptions options, TimeSpan duration, bool warmup)
    {
        var tag = NextTag(Id);
        var payload = MakePayload(_payloadSize);
        var (subjects, subscriptions) = SubjectsOf(_mix, options);
        var flow = new FlowWindow(_subscribers, options.WindowFor(_payloadSize));
        using var set = new ConnectionSet(target);

        var counters = new SubscriberCounter[_subscribers];
        // A fan-out's many subscribers each get a small receive buffer (it grows for a larger message).
        var receiveBuffer = _subscribers > 16 ? 16 * 1024 : BenchConnection.ReceiveBufferSize;
        for (var i = 0; i < _subscribers; i++)
        {
            var subscriber = set.Open($"sub{i}-{tag}", receiveBuffer: receiveBuffer);
            subscriber.Setup((codec, output) =>
            {
                for (var s = 0; s < subscriptions.Length; s++)
                {
                    codec.WriteSubscribe(output, s + 1, subscriptions[s]);
                }
            }, ConnectionSet.SetupTimeout);
            counters[i] = new SubscriberCounter(flow, i, _payloadSize, _stamped ? new LatencyHistogram() : null);
            subscriber.Handler = counters[i];
        }

        var publisherName = "pub-" + tag;
        var publisher = set.Open(publisherName, publisher: true);
        publisher.Setup((codec, output) => codec.WritePublisherSetup(output, publisherName, subjects), ConnectionSet.SetupTimeout);

        // Every publication pre-encoded once; the hot loop only copies (the same for both brokers).
        var templates = subjects.Select(subject =>
        {
            var output = new ArrayBufferWriter<byte>();
            publisher.Codec.WritePublish(output, publisherName, subject, payload);
            return output.WrittenSpan.ToArray();
        }).ToArray();
        var stampAt = _stamped ? templates[0].AsSpan().IndexOf(payload) : -1;

        foreach (var connection in set.Connections)
        {
            set.StartReceiving(connection);
        }

        var start = CpuSample.Take(target, options);
        var deadline = Deadline(start.Timestamp, duration);
        foreach (var counter in counters)
        {
            counter.Deadline = deadline;
        }

        Exception? publishError = null;
        var publishing = new Thread(() =>
        {
            try
            {
                Publish(publisher, flow, templates, deadline, options.Seed, stampAt);
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ObjectDisposedException or IOException)
            {
                publishError = ex;
            }
        })
        {
            IsBackground = true,
            Name = "publish " + tag,
        };
        publishing.Start();
        SleepUntil(deadline);
        var end = CpuSample.Take(target, options);
        var received = flow.TotalReceived();
        publishing.Join(TimeSpan.FromSeconds(15)); // the loop checks the deadline at least every 20 ms or after each send (10 s send timeout)
        flow.Drain(options.DrainTimeout);
        var expected = flow.Sent * _subscribers;
        var loss = expected - flow.TotalReceived();
        var (errors, first) = set.CollectErrors();
        var badSizes = counters.Sum(c => c.BadSizes);
        if (publishError is not null)
        {
            errors++;
            first ??= "publisher: " + publishError.Message;
        }

        if (badSizes > 0)
        {
            errors++;
            first ??= $"{badSizes} deliveries had a payload size other than {_payloadSize}";
        }

        var seconds = end.SecondsSince(start);
        var rate = received / seconds;
        var latencies = _stamped ? counters.Select(c => c.Latency!).ToList() : null;
        return new RunMeasurement
        {
            P50Us = latencies is null ? null : LatencyHistogram.Percentile(latencies, 0.50),
            P99Us = latencies is null ? null : LatencyHistogram.Percentile(latencies, 0.99),
            P999Us = latencies is null ? null : LatencyHistogram.Percentile(latencies, 0.999),
            Seconds = seconds,
            Sent = flow.Sent,
            Received = received,
            Loss = loss,
            Rate = rate,
            MegabytesPerSecond = rate * _payloadSize / 1e6,
            BrokerCpuNsPerOp = end.BrokerNsSince(start) is { } ns && received > 0 ? ns / received : null,
            BrokerCpuPercent = end.BrokerPercentSince(start),
            GeneratorCpuPercent = end.SelfPercentSince(start),
            Errors = errors,
            FirstError = first,
        };
    }

    /// <summary>The hot loop. With <paramref name="stampAt"/> (the payload's offset in the one template), each batch's payloads get its send time.</summary>
    private static void Publish(BenchConnection publisher, FlowWindow flow, byte[][] templates, long deadline, int seed, int stampAt)
    {
        var buffer = new byte[Math.Max(BatchBytes, templates.Max(t => t.Length))];
        var random = new XorShift(seed);
        while (!publisher.IsClosed)
        {
            var room = flow.WaitForRoom(deadline);
            if (room <= 0)
            {
                return;
            }

            var position = 0;
            var count = 0;
            while (count < room)
            {
                var template = templates.Length == 1 ? templates[0] : templates[random.Next(templates.Length)];
                if (position + template.Length > buffer.Length)
                {
                    break;
                }

                template.CopyTo(buffer, position);
                position += template.Length;
                count++;
            }

            if (stampAt >= 0)
            {
                var now = Stopwatch.GetTimestamp();
                for (var offset = stampAt; offset < position; offset += templates[0].Length)
                {
                    LatencyHistogram.Stamp(buffer.AsSpan(offset), now);
                }
            }

            flow.AddSent(count);
            publisher.Send(buffer.AsSpan(0, position));
            if (Stopwatch.GetTimestamp() >= deadline)
            {
                return;
            }
        }
    }

    /// <summary>Counts one subscriber's deliveries; publishes the count to the window once per received chunk.</summary>
    private sealed class SubscriberCounter(FlowWindow flow, int index, int payloadSize, LatencyHistogram? latency) : IInboundHandler
    {
        private long _pending;

        public long BadSizes { get; private set; }

        /// <summary>Stamped runs: each delivery's latency, inside the measured window.</summary>
        public LatencyHistogram? Latency => latency;

        public long Deadline { get; set; } = long.MaxValue;

        public void OnMessage(int sid, ReadOnlySpan<byte> payload)
        {
            _pending++;
            if (payload.Length != payloadSize)
            {
                BadSizes++;
            }

            if (latency is not null && Stopwatch.GetTimestamp() is var now && now <= Deadline)
            {
                latency.Record(payload, now);
            }
        }

        public void OnChunkParsed(BenchConnection connection)
        {
            if (_pending > 0)
            {
                flow.AddReceived(index, _pending);
                _pending = 0;
            }
        }
    }

    /// <summary>A small deterministic generator: the same subject sequence for every broker.</summary>
    internal struct XorShift(int seed)
    {
        private uint _state = (uint)seed | 1;

        public int Next(int bound)
        {
            _state ^= _state << 13;
            _state ^= _state >> 17;
            _state ^= _state << 5;
            return (int)(_state % (uint)bound);
        }
    }
}
