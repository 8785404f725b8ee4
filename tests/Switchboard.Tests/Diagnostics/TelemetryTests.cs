using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Diagnostics;

/// <summary>Listening to Switchboard's ActivitySource and Meter is process-wide: these tests run alone, so no other
/// test's messages gain headers (or spans) while they listen.</summary>
[CollectionDefinition(nameof(TelemetryCollection), DisableParallelization = true)]
public sealed class TelemetryCollection;

/// <summary>Traces and metrics with the OpenTelemetry SDK and its in-memory exporters: a trigger through a real broker
/// is one trace (a PRODUCER span and a CONSUMER span that is its child and linked to it, after the messaging semantic
/// conventions), the context rides in the message's <c>traceparent</c> header, the counts add up; with nobody
/// listening, nothing is added and nothing is allocated.</summary>
[Collection(nameof(TelemetryCollection))]
public sealed class TelemetryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_trigger_through_a_broker_is_one_trace_from_the_senders_span_to_the_listeners_and_is_counted()
    {
        await using var traced = await TracedBroker.StartAsync();
        var (spans, metrics, meters, publisher, subscriber) = (traced.Spans, traced.Metrics, traced.Meters, traced.Publisher, traced.Subscriber);
        var received = new TaskCompletionSource<(BusMessage Message, string? Current)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = await subscriber.ListenAsync("tracer", "#traced", (message, _) =>
        {
            received.TrySetResult((message.Detach(), Activity.Current?.Id));
            return ValueTask.CompletedTask;
        }, cancellationToken: Ct);
        await using var sender = await publisher.AddSenderAsync("tracer", ["#traced"], cancellationToken: Ct);

        await sender.TriggerAsync("#traced", Payload.Json(1), cancellationToken: Ct);
        var (delivered, currentInHandler) = await received.Task.WithinAsync("the traced message");
        await Wait.UntilAsync(() => spans.Snapshot().Any(s => s.DisplayName == "process #traced"), "the consumer span to end");

        var send = Assert.Single(spans.Snapshot(), s => s.DisplayName == "send #traced");
        var process = Assert.Single(spans.Snapshot(), s => s.DisplayName == "process #traced");
        Assert.Equal(ActivityKind.Producer, send.Kind);
        Assert.Equal(ActivityKind.Consumer, process.Kind);
        Assert.Equal(send.TraceId, process.TraceId);
        Assert.Equal(send.SpanId, process.ParentSpanId);
        Assert.Contains(process.Links, link => link.Context.SpanId == send.SpanId);
        Assert.Equal(process.Id, currentInHandler); // the callback runs inside its span
        Assert.Equal(send.Id, delivered.Headers[SwitchboardTelemetry.TraceParentHeader]); // carried through the broker
        foreach (var (span, operation) in new[] { (send, "send"), (process, "process") })
        {
            Assert.Equal("switchboard", span.GetTagItem("messaging.system"));
            Assert.Equal("#traced", span.GetTagItem("messaging.destination.name"));
            Assert.Equal(operation, span.GetTagItem("messaging.operation.type"));
            Assert.Equal("tracer", span.GetTagItem("messaging.switchboard.sender"));
        }

        meters.ForceFlush();
        Assert.Equal(1, Sum(metrics, "messaging.client.sent.messages", "#traced"));
        Assert.Equal(1, Sum(metrics, "messaging.client.consumed.messages", "#traced"));
        Assert.Equal(1, Count(metrics, "messaging.client.operation.duration", "#traced"));
        Assert.Equal(1, Count(metrics, "messaging.process.duration", "#traced"));
    }

    [Fact]
    public async Task A_trigger_crossing_a_bridge_to_a_broker_stays_one_trace_to_the_listener_on_the_far_side()
    {
        var spans = new LockedList<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddSource(SwitchboardTelemetry.ActivitySourceName).AddInMemoryExporter(spans).Build();
        await using var broker = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var local = new LocalBus();
        await using var far = await BusClient.ConnectAsync(broker.TcpAddress!, new BusClientOptions { ClientName = "bridge" }, Ct);
        await using var bridge = await local.BridgeAsync(far, new BridgeOptions { Outbound = new() { Events = ["#bridged"] } }, Ct);
        await using var listenerClient = await BusClient.ConnectAsync(broker.TcpAddress!, new BusClientOptions { ClientName = "far-listener" }, Ct);
        var received = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = await listenerClient.ListenAsync(null, "#bridged", (message, _) =>
        {
            received.TrySetResult(Activity.Current?.TraceId.ToString());
            return ValueTask.CompletedTask;
        }, cancellationToken: Ct);
        await using var sender = await local.AddSenderAsync("origin", ["#bridged"], cancellationToken: Ct);

        await sender.TriggerAsync("#bridged", Payload.Json(1), cancellationToken: Ct);
        var traceInListener = await received.Task.WithinAsync("the bridged message on the far side");

        var origin = spans.Snapshot().First(s => s.DisplayName == "send #bridged" && s.GetTagItem("messaging.switchboard.sender") as string == "origin");
        Assert.Equal(origin.TraceId.ToString(), traceInListener);
        await Wait.UntilAsync(() => spans.Snapshot().Count(s => s.DisplayName == "process #bridged" && s.TraceId == origin.TraceId) >= 2,
            "the bridge's listener and the far listener, both in the origin's trace");
        Assert.Contains(spans.Snapshot(), s => s.DisplayName == "send #bridged" && s.TraceId == origin.TraceId && s.SpanId != origin.SpanId); // the bridge's own send
    }

    [Fact]
    public async Task A_message_read_from_a_queue_listener_is_a_receive_span_in_the_senders_trace_and_is_counted()
    {
        await using var traced = await TracedBroker.StartAsync();
        var (spans, metrics, meters, publisher, subscriber) = (traced.Spans, traced.Metrics, traced.Meters, traced.Publisher, traced.Subscriber);
        await using var queue = await subscriber.ListenAsync("tracer", "#queued", cancellationToken: Ct);
        await using var sender = await publisher.AddSenderAsync("tracer", ["#queued"], cancellationToken: Ct);

        await sender.TriggerAsync("#queued", Payload.Json(1), cancellationToken: Ct);
        await sender.TriggerAsync("#queued", Payload.Json(2), cancellationToken: Ct);
        await queue.NextAsync();
        await Wait.UntilAsync(() => queue.TryRead(out _), "the second message, read with TryRead");

        var sends = spans.Snapshot().Where(s => s.DisplayName == "send #queued").ToList();
        var receives = spans.Snapshot().Where(s => s.DisplayName == "receive #queued").ToList();
        Assert.Equal(2, sends.Count);
        Assert.Equal(2, receives.Count);
        foreach (var receive in receives)
        {
            Assert.Equal(ActivityKind.Consumer, receive.Kind);
            Assert.Equal("receive", receive.GetTagItem("messaging.operation.type"));
            Assert.Contains(sends, send => send.SpanId == receive.ParentSpanId && send.TraceId == receive.TraceId);
        }

        meters.ForceFlush();
        Assert.Equal(2, Sum(metrics, "messaging.client.consumed.messages", "#queued"));
    }

    [Fact]
    public async Task A_request_through_a_broker_is_a_client_span_and_its_handler_a_child_span_and_failures_carry_their_code()
    {
        var spans = new LockedList<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddSource(SwitchboardTelemetry.ActivitySourceName).AddInMemoryExporter(spans).Build();
        await using var broker = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var asker = await BusClient.ConnectAsync(broker.TcpAddress!, new BusClientOptions { ClientName = "asker" }, Ct);
        await using var answerer = await BusClient.ConnectAsync(broker.TcpAddress!, new BusClientOptions { ClientName = "answerer" }, Ct);
        await using var clock = await answerer.AddSenderAsync("clock", ["#ticks"], new()
        {
            ["now"] = (_, _) => ValueTask.FromResult(Payload.Json(12)),
            ["broken"] = (_, _) => throw new InvalidOperationException("no time today"),
        }, cancellationToken: Ct);

        Assert.Equal(12, await asker.RequestAsync<int>("clock", "now", cancellationToken: Ct));
        await Assert.ThrowsAsync<RequestFailedException>(async () => await asker.RequestAsync("clock", "broken", cancellationToken: Ct));
        await Assert.ThrowsAsync<RequestFailedException>(async () => await asker.RequestAsync("nobody", "now", cancellationToken: Ct));
        await Wait.UntilAsync(() => spans.Snapshot().Count(s => s.DisplayName.StartsWith("request ", StringComparison.Ordinal)) == 3, "three request spans");

        var requests = spans.Snapshot().Where(s => s.DisplayName.StartsWith("request ", StringComparison.Ordinal)).ToList();
        var processes = spans.Snapshot().Where(s => s.DisplayName == "process clock").ToList();
        Assert.All(requests, r => Assert.Equal(ActivityKind.Client, r.Kind));
        var now = requests.Single(r => Equals(r.GetTagItem("messaging.switchboard.request"), "now") && r.DisplayName == "request clock");
        var broken = requests.Single(r => Equals(r.GetTagItem("messaging.switchboard.request"), "broken"));
        var nobody = requests.Single(r => r.DisplayName == "request nobody");
        Assert.Equal(ActivityStatusCode.Unset, now.Status);
        Assert.Equal(ErrorCodes.HandlerError, broken.GetTagItem("error.type"));
        Assert.Equal(ActivityStatusCode.Error, broken.Status);
        Assert.Equal(ErrorCodes.NoSender, nobody.GetTagItem("error.type"));
        Assert.Equal(2, processes.Count); // the handler ran for 'now' and 'broken', in the answering client, under each asker's span
        Assert.Contains(processes, p => p.ParentSpanId == now.SpanId && p.TraceId == now.TraceId && p.Status == ActivityStatusCode.Unset);
        Assert.Contains(processes, p => p.ParentSpanId == broken.SpanId && p.Status == ActivityStatusCode.Error
            && Equals(p.GetTagItem("error.type"), typeof(InvalidOperationException).FullName));
    }

    [Fact]
    public async Task A_gather_through_a_broker_is_a_client_span_with_its_outcome_and_each_producers_answer_a_child_span()
    {
        var spans = new LockedList<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddSource(SwitchboardTelemetry.ActivitySourceName).AddInMemoryExporter(spans).Build();
        await using var broker = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var asker = await BusClient.ConnectAsync(broker.TcpAddress!, new BusClientOptions { ClientName = "asker" }, Ct);
        await using var shops = await BusClient.ConnectAsync(broker.TcpAddress!, new BusClientOptions { ClientName = "shops" }, Ct);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fast = await shops.AddProducerAsync(["prices"], (_, _) => ValueTask.FromResult(Payload.Json(3)), new ProducerOptions { Name = "fast-shop" }, Ct);
        await using var slow = await shops.AddProducerAsync(["prices"], async (_, ct) =>
        {
            await release.Task.WaitAsync(ct);
            return Payload.Json(4);
        }, new ProducerOptions { Name = "slow-shop" }, Ct);

        var gather = asker.GatherAsync("prices", Payload.Json("espresso"), TimeSpan.FromMilliseconds(500), cancellationToken: Ct);
        var summary = await gather.Summary.WaitAsync(Wait.Timeout, Ct);
        release.TrySetResult();
        Assert.Equal(new[] { "fast-shop" }, summary.Answered);
        await Wait.UntilAsync(() => spans.Snapshot().Any(s => s.DisplayName == "gather prices"), "the gather span to end");

        var span = spans.Snapshot().Single(s => s.DisplayName == "gather prices");
        Assert.Equal(ActivityKind.Client, span.Kind);
        Assert.Equal("gather", span.GetTagItem("messaging.operation.name"));
        Assert.Equal(1, span.GetTagItem("messaging.switchboard.answered"));
        Assert.Equal(1, span.GetTagItem("messaging.switchboard.missing"));
        await Wait.UntilAsync(() => spans.Snapshot().Count(s => s.DisplayName == "process prices") == 2, "both producers' spans to end");
        var produced = spans.Snapshot().Where(s => s.DisplayName == "process prices").ToList();
        Assert.All(produced, p => Assert.Equal(span.SpanId, p.ParentSpanId));
        Assert.Equal(new[] { "fast-shop", "slow-shop" }, produced.Select(p => (string)p.GetTagItem("messaging.switchboard.producer")!).Order());
    }

    [Fact]
    public async Task A_failing_callback_ends_its_span_as_an_error()
    {
        var spans = new LockedList<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddSource(SwitchboardTelemetry.ActivitySourceName).AddInMemoryExporter(spans).Build();
        await using var bus = new LocalBus();
        await using var listener = await bus.ListenAsync("boom", "#fails", (_, _) => throw new InvalidOperationException("the handler broke"), cancellationToken: Ct);
        await using var sender = await bus.AddSenderAsync("boom", ["#fails"], cancellationToken: Ct);
        await sender.TriggerAsync("#fails", Payload.Json(1), cancellationToken: Ct);
        await Wait.UntilAsync(() => spans.Snapshot().Any(s => s.DisplayName == "process #fails"), "the failed consumer span");
        var process = spans.Snapshot().Single(s => s.DisplayName == "process #fails");
        Assert.Equal(ActivityStatusCode.Error, process.Status);
        Assert.Equal("the handler broke", process.StatusDescription);
        Assert.Equal(typeof(InvalidOperationException).FullName, process.GetTagItem("error.type"));
    }

    [Fact]
    public async Task With_nobody_listening_a_message_keeps_its_headers_and_a_trigger_allocates_nothing()
    {
        await using var bus = new LocalBus();
        MessageHeaders? seen = null;
        await using var listener = await bus.ListenAsync("quiet", "#untraced", (message, _) =>
        {
            seen = message.Headers;
            return ValueTask.CompletedTask;
        }, cancellationToken: Ct);
        await using var sender = await bus.AddSenderAsync("quiet", ["#untraced"], cancellationToken: Ct);
        var data = Payload.Json(1);
        for (var i = 0; i < 100; i++)
        {
            await sender.TriggerAsync("#untraced", data, cancellationToken: Ct); // warm up
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            await sender.TriggerAsync("#untraced", data, cancellationToken: Ct);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Same(MessageHeaders.Empty, seen);
        Assert.Equal(0, allocated);
    }

    private static long Sum(LockedList<MetricSnapshot> metrics, string name, string destination) =>
        Points(metrics, name, destination).Sum(p => p.GetSumLong());

    private static long Count(LockedList<MetricSnapshot> metrics, string name, string destination) =>
        Points(metrics, name, destination).Sum(p => p.GetHistogramCount());

    private static IEnumerable<MetricPoint> Points(LockedList<MetricSnapshot> metrics, string name, string destination)
    {
        var last = metrics.Snapshot().Last(m => m.Name == name); // cumulative: the last export has the totals
        return last.MetricPoints.Where(p => HasDestination(p, destination));
    }

    private static bool HasDestination(MetricPoint point, string destination)
    {
        foreach (var tag in point.Tags)
        {
            if (tag.Key == "messaging.destination.name" && Equals(tag.Value, destination))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The exporters add from whichever thread ends a span; the test reads from its own.</summary>
    /// <summary>Tracing and metrics exported in memory, a broker, and a publisher and a subscriber connected to it.</summary>
    private sealed class TracedBroker : IAsyncDisposable
    {
        private readonly TracerProvider _tracing;
        private readonly BrokerHost _broker;

        private TracedBroker(LockedList<Activity> spans, LockedList<MetricSnapshot> metrics, TracerProvider tracing, MeterProvider meters, BrokerHost broker, BusClient publisher, BusClient subscriber) =>
            (Spans, Metrics, _tracing, Meters, _broker, Publisher, Subscriber) = (spans, metrics, tracing, meters, broker, publisher, subscriber);

        public LockedList<Activity> Spans { get; }

        public LockedList<MetricSnapshot> Metrics { get; }

        public MeterProvider Meters { get; }

        public BusClient Publisher { get; }

        public BusClient Subscriber { get; }

        public static async Task<TracedBroker> StartAsync()
        {
            var spans = new LockedList<Activity>();
            var metrics = new LockedList<MetricSnapshot>();
            var tracing = Sdk.CreateTracerProviderBuilder().AddSource(SwitchboardTelemetry.ActivitySourceName).AddInMemoryExporter(spans).Build()!;
            var meters = Sdk.CreateMeterProviderBuilder().AddMeter(SwitchboardTelemetry.MeterName).AddInMemoryExporter(metrics).Build()!;
            var broker = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
            var publisher = await BusClient.ConnectAsync(broker.TcpAddress!, new BusClientOptions { ClientName = "publisher" }, Ct);
            var subscriber = await BusClient.ConnectAsync(broker.TcpAddress!, new BusClientOptions { ClientName = "subscriber" }, Ct);
            return new TracedBroker(spans, metrics, tracing, meters, broker, publisher, subscriber);
        }

        public async ValueTask DisposeAsync()
        {
            await Subscriber.DisposeAsync();
            await Publisher.DisposeAsync();
            await _broker.DisposeAsync();
            Meters.Dispose();
            _tracing.Dispose();
        }
    }

    private sealed class LockedList<T> : ICollection<T>
    {
        private readonly List<T> _items = [];

        public int Count
        {
            get
            {
                lock (_items)
                {
                    return _items.Count;
                }
            }
        }

        public bool IsReadOnly => false;

        public List<T> Snapshot()
        {
            lock (_items)
            {
                return [.. _items];
            }
        }

        public void Add(T item)
        {
            lock (_items)
            {
                _items.Add(item);
            }
        }

        public void Clear()
        {
            lock (_items)
            {
                _items.Clear();
            }
        }

        public bool Contains(T item)
        {
            lock (_items)
            {
                return _items.Contains(item);
            }
        }

        public void CopyTo(T[] array, int arrayIndex)
        {
            lock (_items)
            {
                _items.CopyTo(array, arrayIndex);
            }
        }

        public bool Remove(T item)
        {
            lock (_items)
            {
                return _items.Remove(item);
            }
        }

        public IEnumerator<T> GetEnumerator() => Snapshot().GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
