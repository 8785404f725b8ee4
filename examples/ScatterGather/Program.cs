// Seed 000's scatter-gather (ate-dispatcher's README) in Switchboard's terms. Two producers in this one application
// (on one connection) block their thread for 200 ms and 500 ms (the seed's time.sleep) and answer with their id, the topic and what they
// were sent; two result listeners receive every result of their topics. Then three gathers, as the seed sends them:
//   topic1,   ttl 4000 ms: both producers answer, both listeners get both results
//   my_topic, ttl  300 ms: only producer1 (200 ms) answers; producer2 (500 ms) is missing, its answer comes late
//   topic2,   ttl 1000 ms: only producer2 is on topic2; only listener1 listens to it
// Each result is printed with its arrival time since the gather started, then the summary and what each listener got.
//
//   dotnet run --project examples/ScatterGather -- --server sb://127.0.0.1:7222
//   dotnet run --project examples/ScatterGather -- --local        (in process, no broker)
using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Switchboard;

var server = new Option<string>("--server") { Description = "The broker's address.", HelpName = "URL", DefaultValueFactory = _ => "sb://127.0.0.1:7222" };
var local = new Option<bool>("--local") { Description = "Use an in-process LocalBus instead of a broker." };
var settle = new Option<int>("--settle-ms") { Description = "After a gather ends, how long to wait at most for late answers and result listeners (the seed sleeps 0.5 to 1 s).", HelpName = "MS", DefaultValueFactory = _ => 2000 };
settle.Validators.Add(r =>
{
    if (r.GetValueOrDefault<int>() < 0)
    {
        r.AddError("--settle-ms cannot be negative");
    }
});

var root = new RootCommand("Seed 000's scatter-gather: two blocking producers (200 ms, 500 ms), two result listeners, gathers with ttl 4000, 300 and 1000 ms.")
{
    server, local, settle,
};
root.SetAction((result, ct) => RunAsync(result.GetValue(local) ? null : result.GetValue(server), TimeSpan.FromMilliseconds(result.GetValue(settle)), ct));
return await root.Parse(args).InvokeAsync();

static async Task<int> RunAsync(string? server, TimeSpan settle, CancellationToken ct)
{
    try
    {
        // The agents' connection (both producers share it, as the seed's producers share one process) and the
        // dispatcher's (gathers and result listeners): on a broker these could be different machines.
        await using var agents = await ConnectAsync(server, "scatter-gather producers", null, ct);
        await using var bus = await ConnectAsync(server, "scatter-gather dispatcher", agents as LocalBus, ct);
        Console.WriteLine($"bus: {(bus is BusClient client ? client.ConnectedAddress : "local")}");
        await using var producer1 = await agents.AddProducerAsync(new[] { "topic1", "my_topic" }, Producer(0, 200), new ProducerOptions { Name = "producer1" }, ct);
        await using var producer2 = await agents.AddProducerAsync(new[] { "topic1", "topic2", "my_topic" }, Producer(1, 500), new ProducerOptions { Name = "producer2" }, ct);
        await using var listener1 = await ResultListener.StartAsync(bus, "listener1", ["topic1", "topic2", "my_topic"], ct);
        await using var listener2 = await ResultListener.StartAsync(bus, "listener2", ["topic1", "my_topic"], ct);
        ResultListener[] listeners = [listener1, listener2];
        await WarmUpAsync(agents, bus, ct);
        await GatherAsync(bus, "topic1", 4000, listeners, settle, ct);
        await GatherAsync(bus, "my_topic", 300, listeners, settle, ct);
        await GatherAsync(bus, "topic2", 1000, listeners, settle, ct);
        return 0;
    }
    catch (SwitchboardException ex)
    {
        await Console.Error.WriteLineAsync($"error: {ex.Code}: {ex.Message.ReplaceLineEndings(" ")}");
        return 1;
    }
}

// A client of the broker, or with --local an in-process bus (a second one joins the first's router).
static async Task<IBus> ConnectAsync(string? server, string name, LocalBus? local, CancellationToken ct) =>
    server is null ? local?.Connect() ?? new LocalBus() : await BusClient.ConnectAsync(server, new BusClientOptions { ClientName = name }, ct);

// One untimed gather first, so the times printed are the producers' and not the first call's JIT compilation.
static async Task WarmUpAsync(IBus agents, IBus bus, CancellationToken ct)
{
    await using var echo = await agents.AddProducerAsync("warm_up", (request, _) => ValueTask.FromResult(request.Data), new ProducerOptions { Name = "warm_up" }, ct);
    await using var results = await bus.ListenResultsAsync("warm_up", _ => { }, cancellationToken: ct);
    var call = bus.GatherAsync("warm_up", Request(), TimeSpan.FromSeconds(10), cancellationToken: ct);
    await foreach (var _ in call.WithCancellation(ct))
    {
    }

    await call.Summary;
}

// The seed's SpecificTopicProducer: sleeps (blocking its thread), then answers {id, some_key: topic, args, kwargs}.
static ProducerHandler Producer(int id, int sleepMs)
{
    _ = Answer(id, new GatherRequest("warm_up", "none", Request(), MessageHeaders.Empty)); // JSON code compiled before any gather times it
    return (request, ct) =>
    {
        Thread.Sleep(sleepMs);
        return ValueTask.FromResult(Answer(id, request));
    };
}

static Payload Answer(int id, GatherRequest request)
{
    var input = JsonNode.Parse(request.Data.Bytes.Span);
    var output = new JsonObject
    {
        ["id"] = id,
        ["some_key"] = request.Topic,
        ["args"] = input?["args"]?.DeepClone(),
        ["kwargs"] = input?["kwargs"]?.DeepClone(),
    };
    return Payload.Utf8(output.ToJsonString());
}

// The seed's send_request(topic, 3, 4, 5, keyword='b'): positional and keyword arguments.
static Payload Request() => Payload.Utf8("""{"args":[3,4,5],"kwargs":{"keyword":"b"}}""");

// dispatcher.send_request(topic, 3, 4, 5, ttl=..., keyword='b'), then what arrived.
static async Task GatherAsync(IBus bus, string topic, int ttlMs, ResultListener[] listeners, TimeSpan settle, CancellationToken ct)
{
    foreach (var listener in listeners)
    {
        listener.Clear();
    }

    Console.WriteLine($"gather {topic}, ttl {ttlMs} ms");
    var clock = Stopwatch.StartNew();
    var call = bus.GatherAsync(topic, Request(), TimeSpan.FromMilliseconds(ttlMs), cancellationToken: ct);
    await foreach (var result in call.WithCancellation(ct))
    {
        Console.WriteLine($"  {clock.ElapsedMilliseconds,4} ms  {result.Producer}  {result.Data}");
    }

    var summary = await call.Summary;
    await SettleAsync(() => summary.Late >= summary.Missing.Count && listeners.All(l => l.Count >= (l.Listens(topic) ? summary.Answered.Count : 0)), settle, ct);
    Console.WriteLine($"  answered: {List(summary.Answered)}; missing: {List(summary.Missing)}; late: {summary.Late}");
    foreach (var listener in listeners)
    {
        Console.WriteLine($"  {listener.Name} received: {List(listener.Received)}");
    }
}

// Like the seed's time.sleep after each request ("wait for responses to arrive"), but only as long as needed:
// late answers are counted and result listeners are called as they come, so wait until they all did (or the limit).
static async Task SettleAsync(Func<bool> done, TimeSpan limit, CancellationToken ct)
{
    var clock = Stopwatch.StartNew();
    while (!done() && clock.Elapsed < limit)
    {
        await Task.Delay(10, ct);
    }
}

static string List(IEnumerable<string> names) => string.Join(", ", names.DefaultIfEmpty("none"));

/// <summary>The seed's ResultListenerExample: keeps the producers whose results it received, on the topics it listens to.</summary>
internal sealed class ResultListener : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _received = new();
    private readonly List<IListener> _registrations = [];
    private readonly HashSet<string> _topics;

    private ResultListener(string name, IEnumerable<string> topics)
    {
        Name = name;
        _topics = [.. topics];
    }

    /// <summary>Its name in the output.</summary>
    public string Name { get; }

    /// <summary>How many results it received since <see cref="Clear"/>.</summary>
    public int Count => _received.Count;

    /// <summary>The producers of those results, in arrival order.</summary>
    public IEnumerable<string> Received => _received;

    /// <summary>Registers a result listener for each topic.</summary>
    public static async Task<ResultListener> StartAsync(IBus bus, string name, string[] topics, CancellationToken ct)
    {
        var listener = new ResultListener(name, topics);
        foreach (var topic in topics)
        {
            listener._registrations.Add(await bus.ListenResultsAsync(topic, m => listener._received.Enqueue(m.Sender), cancellationToken: ct));
        }

        return listener;
    }

    /// <summary>Whether it listens to <paramref name="topic"/>.</summary>
    public bool Listens(string topic) => _topics.Contains(topic);

    /// <summary>Forgets what it received (the seed's clear()).</summary>
    public void Clear() => _received.Clear();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var registration in _registrations)
        {
            await registration.DisposeAsync();
        }
    }
}
