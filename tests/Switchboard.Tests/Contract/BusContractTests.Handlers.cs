using System.Collections.Concurrent;
using System.Diagnostics;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Contract;

/// <summary>Application code that blocks (seed 000's producers sleep; seed 003's workers are threads) stalls nothing else.</summary>
public abstract partial class BusContractTests
{
    /// <summary>How far a result may come after its producer's blocking time. On a quiet machine results come within
    /// 10 ms over every bus; this bar is what a loaded 2-core runner with the suite's parallel collections meets
    /// (72 ms was seen once), while still telling concurrent producers (500 ms) from serialised ones (700 ms).</summary>
    private static readonly TimeSpan ResultSlack = TimeSpan.FromMilliseconds(150);

    private static ProducerHandler Sleeping(int id, int milliseconds) => (request, _) =>
    {
        Thread.Sleep(milliseconds); // seed 000's producers: time.sleep(timeout)
        return ValueTask.FromResult(Payload.Json(new { id, some_key = request.Topic, args = request.Data.As<int[]>() }));
    };

    [Fact]
    public async Task Seed000_blocking_producers_in_one_application_answer_at_their_own_times_for_each_ttl()
    {
        var application = await NewBusAsync();
        var listening = await NewBusAsync();
        var caller = await NewBusAsync();
        await using var producer1 = await application.AddProducerAsync(["topic1", "my_topic"], Sleeping(0, 200), new ProducerOptions { Name = "producer1" }, Ct);
        await using var producer2 = await application.AddProducerAsync(["topic1", "topic2", "my_topic"], Sleeping(1, 500), new ProducerOptions { Name = "producer2" }, Ct);
        var listener1 = new ConcurrentQueue<string>();
        var listener2 = new ConcurrentQueue<string>();
        var registrations = new List<IListener>();
        foreach (var topic in new[] { "topic1", "topic2", "my_topic" })
        {
            registrations.Add(await listening.ListenResultsAsync(topic, m => listener1.Enqueue($"{m.Event}:{m.Sender}"), cancellationToken: Ct));
        }

        foreach (var topic in new[] { "topic1", "my_topic" })
        {
            registrations.Add(await listening.ListenResultsAsync(topic, m => listener2.Enqueue($"{m.Event}:{m.Sender}"), cancellationToken: Ct));
        }

        // ttl 4000 on topic1: both answer, at about 200 and 500 ms (not 200 and 700: they run at once).
        var (times, summary) = await TimedGatherAsync(caller, "topic1", TimeSpan.FromMilliseconds(4000));
        AssertAnsweredAround(times, "producer1", 200);
        AssertAnsweredAround(times, "producer2", 500);
        Assert.Equal(["producer1", "producer2"], summary.Answered.Order());
        await Wait.UntilAsync(() => listener1.Count == 2 && listener2.Count == 2, "both result listeners got both topic1 results");

        // ttl 300 on my_topic: only producer1 is in time; producer2's answer comes late and is counted.
        listener1.Clear();
        listener2.Clear();
        (times, summary) = await TimedGatherAsync(caller, "my_topic", TimeSpan.FromMilliseconds(300));
        AssertAnsweredAround(times, "producer1", 200);
        Assert.Equal(["producer1"], summary.Answered);
        Assert.Equal(["producer2"], summary.Missing);
        await Wait.UntilAsync(() => summary.Late == 1 || caller.Counters.LateResults > 0, "producer2's late my_topic answer is counted");
        Assert.Equal(["my_topic:producer1"], listener1);
        Assert.Equal(["my_topic:producer1"], listener2);

        // ttl 1000 on topic2: producer2 alone answers at about 500 ms; only listener1 listens to topic2.
        listener1.Clear();
        listener2.Clear();
        (times, summary) = await TimedGatherAsync(caller, "topic2", TimeSpan.FromMilliseconds(1000));
        AssertAnsweredAround(times, "producer2", 500);
        Assert.Equal(["producer2"], summary.Answered);
        await Wait.UntilAsync(() => listener1.Count == 1, "listener1 got the topic2 result");
        Assert.Equal(["topic2:producer2"], listener1);
        Assert.Empty(listener2);
        foreach (var registration in registrations)
        {
            await registration.DisposeAsync();
        }
    }

    private static async Task<(Dictionary<string, TimeSpan> Times, GatherSummary Summary)> TimedGatherAsync(IBus caller, string topic, TimeSpan ttl)
    {
        var clock = Stopwatch.StartNew();
        var call = caller.GatherAsync(topic, Payload.Json(new[] { 3, 4, 5 }), ttl, cancellationToken: Ct);
        var times = new Dictionary<string, TimeSpan>();
        await foreach (var result in call.WithCancellation(Ct))
        {
            times[result.Producer] = clock.Elapsed;
        }

        return (times, await call.Summary.WithinAsync($"the {topic} summary"));
    }

    private static void AssertAnsweredAround(Dictionary<string, TimeSpan> times, string producer, int blockedMilliseconds)
    {
        Assert.True(times.TryGetValue(producer, out var at), $"{producer} did not answer; answered: {string.Join(", ", times.Keys)}");
        var blocked = TimeSpan.FromMilliseconds(blockedMilliseconds);
        Assert.True(at >= blocked - TimeSpan.FromMilliseconds(5) && at <= blocked + ResultSlack,
            $"{producer} blocks for {blockedMilliseconds} ms; its result came at {at.TotalMilliseconds:0} ms (all: {string.Join(", ", times.Select(t => $"{t.Key}={t.Value.TotalMilliseconds:0} ms"))}).");
    }

    [Fact]
    public async Task A_request_handler_that_blocks_does_not_hold_back_events_for_the_other_listeners_of_its_application()
    {
        var application = await NewBusAsync();
        var other = await NewBusAsync();
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        await using var worker = await application.AddSenderAsync("blocking-worker", ["done"], new()
        {
            ["work"] = (_, _) =>
            {
                entered.Set();
                release.Wait(Wait.Timeout); // a handler calling a blocking API
                return ValueTask.FromResult(Payload.Json("worked"));
            },
        }, cancellationToken: Ct);
        await using var news = await application.ListenAsync("newsroom", "#news", cancellationToken: Ct);
        var callbackGot = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var callback = await application.ListenAsync("newsroom", "#alerts", m => callbackGot.TrySetResult(m.As<int>()), cancellationToken: Ct);
        await using var newsroom = await other.AddSenderAsync("newsroom", ["#news", "#alerts"], cancellationToken: Ct);

        var answer = other.RequestAsync("blocking-worker", "work", timeout: Wait.Timeout, cancellationToken: Ct).AsTask();
        await Task.Run(() => entered.Wait(Wait.Timeout), Ct);
        Assert.True(entered.IsSet, "the request reached its handler");
        await newsroom.TriggerAsync("#news", Payload.Json(1), cancellationToken: Ct);
        await newsroom.TriggerAsync("#alerts", Payload.Json(2), cancellationToken: Ct);
        Assert.Equal(1, (await news.NextAsync()).As<int>());
        Assert.Equal(2, await callbackGot.Task.WithinAsync("the callback listener's event while the handler blocks"));
        Assert.False(answer.IsCompleted, "the handler is still blocked while the events arrive");
        release.Set();
        Assert.Equal("worked", (await answer.WithinAsync("the blocked handler's answer")).As<string>());
    }

    [Fact]
    public async Task A_request_to_a_blocking_handler_times_out_on_time()
    {
        var application = await NewBusAsync();
        var other = await NewBusAsync();
        using var release = new ManualResetEventSlim();
        await using var worker = await application.AddSenderAsync("stuck-worker", ["done"], new()
        {
            ["work"] = (_, _) =>
            {
                release.Wait(Wait.Timeout);
                return ValueTask.FromResult(Payload.Json("late"));
            },
        }, cancellationToken: Ct);

        var error = await Assert.ThrowsAsync<RequestFailedException>(async () =>
            await other.RequestAsync("stuck-worker", "work", timeout: TimeSpan.FromMilliseconds(300), cancellationToken: Ct).AsTask().WithinAsync("the timeout", TimeSpan.FromSeconds(5)));
        Assert.Equal(ErrorCodes.Timeout, error.Code);
        Assert.False(release.IsSet);
        release.Set();
    }

    [Fact]
    public async Task A_listener_callback_that_blocks_does_not_hold_back_another_listener_of_its_application()
    {
        var application = await NewBusAsync();
        var other = await NewBusAsync();
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        await using var slow = await application.ListenAsync("feed", "#slow", _ =>
        {
            entered.Set();
            release.Wait(Wait.Timeout);
        }, cancellationToken: Ct);
        var fastGot = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fast = await application.ListenAsync("feed", "#fast", m => fastGot.TrySetResult(m.As<int>()), cancellationToken: Ct);
        await using var feed = await other.AddSenderAsync("feed", ["#slow", "#fast"], cancellationToken: Ct);

        // A thread-pool thread triggers, so on a LocalBus the blocked callback holds that thread, not the test's.
        var triggering = Task.Run(async () => await feed.TriggerAsync("#slow", Payload.Json(1), cancellationToken: Ct), Ct);
        await Task.Run(() => entered.Wait(Wait.Timeout), Ct);
        Assert.True(entered.IsSet, "the slow callback started");
        await feed.TriggerAsync("#fast", Payload.Json(2), cancellationToken: Ct);
        Assert.Equal(2, await fastGot.Task.WithinAsync("the other listener's event while the first callback blocks"));
        release.Set();
        await triggering.WithinAsync("the slow trigger");
    }

    [Fact]
    public async Task MaxConcurrency_runs_that_many_blocking_callbacks_at_once()
    {
        const int Workers = 4;
        var application = await NewBusAsync();
        var other = await NewBusAsync();
        var running = 0;
        var most = 0;
        var entered = 0;
        var finished = 0;
        using var allIn = new ManualResetEventSlim();
        await using var listener = await application.ListenAsync("jobs", "#job", _ =>
        {
            InterlockedMax(ref most, Interlocked.Increment(ref running));
            if (Interlocked.Increment(ref entered) == Workers)
            {
                allIn.Set();
            }

            // Seed 003's DataProcessingChannel(max_workers): real threads that block. The first four wait until all four run.
            allIn.Wait(TimeSpan.FromSeconds(2));
            Thread.Sleep(20);
            Interlocked.Decrement(ref running);
            Interlocked.Increment(ref finished);
        }, new ListenerOptions { MaxConcurrency = Workers }, Ct);
        await using var jobs = await other.AddSenderAsync("jobs", ["#job"], cancellationToken: Ct);
        for (var i = 0; i < Workers * 2; i++)
        {
            await jobs.TriggerAsync("#job", Payload.Json(i), cancellationToken: Ct);
        }

        await Wait.UntilAsync(() => Volatile.Read(ref finished) == Workers * 2, "every job ran");
        Assert.Equal(Workers, Volatile.Read(ref most));
        Assert.Equal(0, listener.Faults);
    }

    [Fact]
    public async Task A_handler_that_relays_a_request_passes_the_failure_on_with_its_code()
    {
        var relay = await NewBusAsync();
        var asker = await NewBusAsync();
        await using var front = await relay.AddSenderAsync("front-desk", ["open"], new()
        {
            // Asks a sender nobody runs and lets the failure go, as a bridge's mirror does.
            ["lookup"] = async (request, ct) => await relay.RequestAsync("back-office", "lookup", request.Data, TimeSpan.FromSeconds(5), cancellationToken: ct),
        }, cancellationToken: Ct);

        var error = await Assert.ThrowsAsync<RequestFailedException>(async () => await asker.RequestAsync("front-desk", "lookup", timeout: TimeSpan.FromSeconds(5), cancellationToken: Ct));
        Assert.Equal(ErrorCodes.NoSender, error.Code);
        Assert.Contains("back-office", error.Message, StringComparison.Ordinal);
    }
}
