using System.Collections.Concurrent;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Contract;

/// <summary>Seed 000's scatter-gather, its three scenarios as tests, and what goes beyond it.</summary>
public abstract partial class BusContractTests
{
    private sealed class ResultLog
    {
        private readonly ConcurrentQueue<string> _entries = new();

        public void Add(BusMessage message) => _entries.Enqueue($"{message.Event}:{message.Sender}:{message.Data}");

        public List<string> Sorted() => [.. _entries.Order(StringComparer.Ordinal)];

        public void Clear() => _entries.Clear();
    }

    [Fact]
    public async Task Seed000_gather_streams_every_result_to_the_caller_and_to_the_result_listeners_of_the_topic()
    {
        var producers = await NewBusAsync();
        var listeners = await NewBusAsync();
        var caller = await NewBusAsync();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var p1 = await producers.AddProducerAsync(["topic1", "my_topic"], (r, _) => ValueTask.FromResult(Payload.Utf8($"p1/{r.Topic}/{r.Data}")), new ProducerOptions { Name = "p1" }, Ct);
        await using var p2 = await producers.AddProducerAsync(["topic1", "topic2", "my_topic"], async (r, _) =>
        {
            if (r.Topic == "my_topic")
            {
                await gate.Task; // seed 000's producer2 is too slow for my_topic's ttl
            }

            return Payload.Utf8($"p2/{r.Topic}/{r.Data}");
        }, new ProducerOptions { Name = "p2" }, Ct);

        var log1 = new ResultLog();
        var log2 = new ResultLog();
        var registrations = new List<IListener>();
        foreach (var topic in new[] { "topic1", "topic2", "my_topic" })
        {
            registrations.Add(await listeners.ListenResultsAsync(topic, log1.Add, cancellationToken: Ct));
        }

        foreach (var topic in new[] { "topic1", "my_topic" })
        {
            registrations.Add(await listeners.ListenResultsAsync(topic, log2.Add, cancellationToken: Ct));
        }

        // Scenario 1: both producers answer topic1 within the ttl; both listeners get both results.
        var call = caller.GatherAsync("topic1", Payload.Utf8("3,4,5"), TimeSpan.FromSeconds(10), cancellationToken: Ct);
        var streamed = new List<string>();
        await foreach (var result in call.WithCancellation(Ct))
        {
            streamed.Add($"{result.Producer}:{result.Data}");
        }

        var summary = await call.Summary.WithinAsync("the topic1 summary");
        Assert.Equal(["p1:p1/topic1/3,4,5", "p2:p2/topic1/3,4,5"], streamed.Order());
        Assert.Equal(["p1", "p2"], summary.Answered.Order());
        Assert.Empty(summary.Missing);
        string[] expected1 = ["topic1:p1:p1/topic1/3,4,5", "topic1:p2:p2/topic1/3,4,5"];
        await Wait.UntilAsync(() => log1.Sorted().SequenceEqual(expected1) && log2.Sorted().SequenceEqual(expected1), "both result listeners hold both topic1 results");
        log1.Clear();
        log2.Clear();

        // Scenario 2: my_topic with a ttl producer2 misses (it waits for the gate, opened only after the gather ended);
        // its result is dropped and counted. The ttl leaves producer1 room on a loaded machine.
        var late = caller.GatherAsync("my_topic", Payload.Utf8("x"), TimeSpan.FromSeconds(2), cancellationToken: Ct);
        var lateStream = new List<string>();
        await foreach (var result in late.WithCancellation(Ct))
        {
            lateStream.Add(result.Producer);
        }

        var lateSummary = await late.Summary;
        Assert.Equal(["p1"], lateStream);
        Assert.Equal(["p1"], lateSummary.Answered);
        Assert.Equal(["p2"], lateSummary.Missing);
        Assert.Equal(0, lateSummary.Late);
        gate.SetResult();
        await Wait.UntilAsync(() => lateSummary.Late == 1, "producer2's late result is counted");
        await Wait.UntilAsync(() => log1.Sorted().Count == 1 && log2.Sorted().Count == 1, "only producer1's my_topic result reaches the listeners");
        Assert.Equal(["my_topic:p1:p1/my_topic/x"], log1.Sorted());
        Assert.Equal(["my_topic:p1:p1/my_topic/x"], log2.Sorted());
        log1.Clear();
        log2.Clear();

        // Scenario 3: topic2 has only producer2, and only listener1 listens to topic2.
        var only = caller.GatherAsync("topic2", Payload.Utf8("y"), TimeSpan.FromSeconds(10), cancellationToken: Ct);
        var onlySummary = await only.Summary.WithinAsync("the topic2 summary");
        Assert.Equal(["p2"], onlySummary.Answered);
        await Wait.UntilAsync(() => log1.Sorted().Count == 1, "listener1 receives producer2's topic2 result");
        Assert.Equal(["topic2:p2:p2/topic2/y"], log1.Sorted());
        await SettleAsync(listeners);
        Assert.Empty(log2.Sorted());

        foreach (var registration in registrations)
        {
            await registration.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_gather_lists_failed_producers_and_ends_at_once_without_producers()
    {
        var bus = await NewBusAsync();
        await using var ok = await bus.AddProducerAsync("jobs", (_, _) => ValueTask.FromResult(Payload.Utf8("done")), new ProducerOptions { Name = "ok" }, Ct);
        await using var bad = await bus.AddProducerAsync("jobs", (_, _) => throw new InvalidOperationException("no capacity"), new ProducerOptions { Name = "bad" }, Ct);
        var summary = await bus.GatherAsync("jobs", Payload.Empty, TimeSpan.FromSeconds(10), cancellationToken: Ct).Summary.WithinAsync("the jobs summary");
        Assert.Equal(["ok"], summary.Answered);
        Assert.Equal("no capacity", summary.Failed["bad"]);
        Assert.Empty(summary.Missing);

        var empty = await bus.GatherAsync("nobody.home", Payload.Empty, TimeSpan.FromSeconds(30), cancellationToken: Ct).Summary.WithinAsync("an empty gather", TimeSpan.FromSeconds(5));
        Assert.Empty(empty.Answered);
        Assert.Empty(empty.Missing);
    }

    [Fact]
    public async Task A_producer_queue_group_answers_each_gather_with_one_member()
    {
        var bus = await NewBusAsync();
        var asked = new ConcurrentBag<string>();
        var members = new List<IProducer>();
        for (var i = 0; i < 3; i++)
        {
            var name = $"worker{i}";
            members.Add(await bus.AddProducerAsync("work", (_, _) =>
            {
                asked.Add(name);
                return ValueTask.FromResult(Payload.Utf8(name));
            }, new ProducerOptions { Name = name, Group = "workers" }, Ct));
        }

        await using var solo = await bus.AddProducerAsync("work", (_, _) => ValueTask.FromResult(Payload.Utf8("solo")), new ProducerOptions { Name = "solo" }, Ct);
        for (var round = 0; round < 6; round++)
        {
            var summary = await bus.GatherAsync("work", Payload.Empty, TimeSpan.FromSeconds(10), cancellationToken: Ct).Summary.WithinAsync("a grouped gather");
            Assert.Equal(2, summary.Answered.Count);
            Assert.Contains("solo", summary.Answered);
        }

        Assert.Equal(6, asked.Count);
        Assert.Equal(3, asked.Distinct().Count());
        foreach (var member in members)
        {
            await member.DisposeAsync();
        }
    }

    [Fact]
    public async Task Producer_names_are_unique_and_removed_producers_are_no_longer_asked()
    {
        var bus = await NewBusAsync();
        var p = await bus.AddProducerAsync("t", (_, _) => ValueTask.FromResult(Payload.Empty), new ProducerOptions { Name = "dup" }, Ct);
        var error = await Assert.ThrowsAsync<SwitchboardException>(async () => await bus.AddProducerAsync("t", (_, _) => ValueTask.FromResult(Payload.Empty), new ProducerOptions { Name = "dup" }, Ct));
        Assert.Equal(ErrorCodes.ProducerExists, error.Code);
        await p.DisposeAsync();
        var summary = await bus.GatherAsync("t", Payload.Empty, TimeSpan.FromSeconds(10), cancellationToken: Ct).Summary.WithinAsync("a gather with no producers left");
        Assert.Empty(summary.Answered);
    }
}
