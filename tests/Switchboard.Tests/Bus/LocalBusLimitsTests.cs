using Microsoft.Extensions.Time.Testing;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Bus;

/// <summary>What only an in-process bus can show directly: its limits and its injected clock.</summary>
public sealed class LocalBusLimitsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Retained_values_are_bounded_and_the_refusal_says_which_setting()
    {
        await using var bus = new LocalBus(new BusOptions { MaxRetained = 2 });
        await using var sender = await bus.AddSenderAsync("many", ["#a", "#b", "#c"], cancellationToken: Ct);
        await sender.TriggerAsync("#a", Payload.Json(1), retain: true, cancellationToken: Ct);
        await sender.TriggerAsync("#b", Payload.Json(2), retain: true, cancellationToken: Ct);
        var error = await Assert.ThrowsAsync<SwitchboardException>(async () => await sender.TriggerAsync("#c", Payload.Json(3), retain: true, cancellationToken: Ct));
        Assert.Contains("MaxRetained", error.Message, StringComparison.Ordinal);
        await sender.TriggerAsync("#a", Payload.Json(4), retain: true, cancellationToken: Ct); // an existing one still updates
        await using var queue = await bus.ListenAsync("many", "#a", cancellationToken: Ct);
        Assert.Equal(4, (await queue.NextAsync()).As<int>());
    }

    [Fact]
    public async Task Retained_values_are_bounded_in_bytes_each_and_in_all_and_clearing_gives_the_room_back()
    {
        await using var bus = new LocalBus(new BusOptions { MaxRetainedValueBytes = 1000, MaxRetainedBytes = 2500 });
        await using var sender = await bus.AddSenderAsync("cam", ["#a", "#b", "#c", "#d"], cancellationToken: Ct);
        var big = await Assert.ThrowsAsync<SwitchboardException>(async () => await sender.TriggerAsync("#a", new byte[1001], retain: true, cancellationToken: Ct));
        Assert.Equal(ErrorCodes.TooMany, big.Code);
        Assert.Contains("MaxRetainedValueBytes", big.Message, StringComparison.Ordinal);

        await sender.TriggerAsync("#a", new byte[900], retain: true, cancellationToken: Ct);
        await sender.TriggerAsync("#b", new byte[900], retain: true, cancellationToken: Ct);
        var full = await Assert.ThrowsAsync<SwitchboardException>(async () => await sender.TriggerAsync("#c", new byte[900], retain: true, cancellationToken: Ct));
        Assert.Contains("MaxRetainedBytes", full.Message, StringComparison.Ordinal);
        await sender.TriggerAsync("#b", new byte[600], retain: true, cancellationToken: Ct); // an update that fits
        await sender.TriggerAsync("#a", default, retain: true, cancellationToken: Ct); // cleared: its bytes are free again
        await sender.TriggerAsync("#c", new byte[900], retain: true, cancellationToken: Ct);

        await using var all = await bus.ListenAsync("cam", null, cancellationToken: Ct);
        var replayed = new[] { await all.NextAsync(), await all.NextAsync() }.Select(m => (m.Event, m.Data.Length)).OrderBy(e => e.Event).ToArray();
        Assert.Equal([("#b", 600), ("#c", 900)], replayed);
        Assert.False(all.TryRead(out _));
    }

    [Fact]
    public async Task Retained_values_outlive_their_sender_by_default_and_end_with_it_when_asked()
    {
        foreach (var lifetime in new[] { RetainedLifetime.UntilCleared, RetainedLifetime.WhileSenderOnline })
        {
            await using var bus = new LocalBus(new BusOptions { RetainedLifetime = lifetime, MaxRetainedBytes = 270 });
            var sensor = await bus.AddSenderAsync("sensor", ["#reading"], cancellationToken: Ct);
            await using var other = await bus.AddSenderAsync("other", ["#reading"], cancellationToken: Ct);
            await sensor.TriggerAsync("#reading", Payload.Json(21.5), retain: true, cancellationToken: Ct);
            await other.TriggerAsync("#reading", Payload.Json(7), retain: true, cancellationToken: Ct);
            await sensor.DisposeAsync();

            await using (var others = await bus.ListenAsync("other", "#reading", cancellationToken: Ct))
            {
                Assert.Equal(7, (await others.NextAsync()).As<int>()); // another sender's value is untouched
            }

            // What a leaving sender held is free again only when its values end with it.
            var refill = lifetime == RetainedLifetime.WhileSenderOnline
                ? other.TriggerAsync("#reading", new byte[250], retain: true, cancellationToken: Ct).AsTask()
                : Assert.ThrowsAsync<SwitchboardException>(async () => await other.TriggerAsync("#reading", new byte[250], retain: true, cancellationToken: Ct));
            await refill;

            await using var late = await bus.ListenAsync("sensor", "#reading", cancellationToken: Ct); // replays before it returns
            Assert.Equal(lifetime == RetainedLifetime.UntilCleared, late.TryRead(out var kept));
            if (lifetime == RetainedLifetime.UntilCleared)
            {
                Assert.Equal(21.5, kept.As<double>());
            }
        }
    }

    [Fact]
    public async Task Request_timeouts_and_gather_ttls_follow_the_injected_clock()
    {
        var time = new FakeTimeProvider();
        await using var bus = new LocalBus(new BusOptions { TimeProvider = time });
        var never = new TaskCompletionSource<Payload>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sender = await bus.AddSenderAsync("held", [], new() { ["wait"] = (_, _) => new ValueTask<Payload>(never.Task) }, cancellationToken: Ct);
        var request = bus.RequestAsync("held", "wait", timeout: TimeSpan.FromMinutes(5), cancellationToken: Ct).AsTask();
        await using var producer = await bus.AddProducerAsync("slow", (_, _) => new ValueTask<Payload>(never.Task), new ProducerOptions { Name = "slow" }, Ct);
        var gather = bus.GatherAsync("slow", Payload.Empty, TimeSpan.FromMinutes(1), cancellationToken: Ct);

        Assert.False(request.IsCompleted);
        Assert.False(gather.Summary.IsCompleted);
        time.Advance(TimeSpan.FromMinutes(1));
        var summary = await gather.Summary.WithinAsync("the gather ending at its ttl on the fake clock");
        Assert.Equal(["slow"], summary.Missing);
        Assert.False(request.IsCompleted);
        time.Advance(TimeSpan.FromMinutes(4));
        var error = await Assert.ThrowsAsync<RequestFailedException>(() => request.WithinAsync("the request timing out on the fake clock"));
        Assert.Equal(ErrorCodes.Timeout, error.Code);
        never.SetResult(Payload.Empty);
    }

    [Fact]
    public async Task Unbounded_concurrency_runs_callbacks_inline_on_each_publishing_thread_without_waiting_for_each_other()
    {
        await using var bus = new LocalBus();
        await using var a = await bus.AddSenderAsync("a", ["#x"], cancellationToken: Ct);
        await using var b = await bus.AddSenderAsync("b", ["#x"], cancellationToken: Ct);
        var release = new ManualResetEventSlim();
        var threads = new System.Collections.Concurrent.ConcurrentBag<(string Sender, int Thread)>();
        await using var listener = await bus.ListenAsync(null, "#x", message =>
        {
            threads.Add((message.Sender, Environment.CurrentManagedThreadId));
            if (message.Sender == "a")
            {
                release.Wait(Wait.Timeout); // a slow callback for a's message...
            }
        }, new ListenerOptions { MaxConcurrency = ListenerOptions.Unbounded }, Ct);

        var fromA = Task.Run(async () =>
        {
            await a.TriggerAsync("#x", cancellationToken: Ct);
            return Environment.CurrentManagedThreadId;
        }, Ct);
        await Wait.UntilAsync(() => threads.Any(t => t.Sender == "a"), "a's callback started");
        await b.TriggerAsync("#x", cancellationToken: Ct); // ...does not hold up b's, which runs inline right here
        Assert.Contains(threads, t => t.Sender == "b" && t.Thread == Environment.CurrentManagedThreadId);
        Assert.False(fromA.IsCompleted, "a's trigger returns only when its inline callback returns");
        release.Set();
        var aThread = await fromA.WithinAsync("a's trigger returning");
        Assert.Contains(threads, t => t.Sender == "a" && t.Thread == aThread);
    }

    [Fact]
    public async Task An_inline_callback_that_throws_is_counted_and_the_other_inline_listeners_still_run()
    {
        await using var bus = new LocalBus();
        await using var sender = await bus.AddSenderAsync("s", ["#x"], cancellationToken: Ct);
        var inline = new ListenerOptions { MaxConcurrency = ListenerOptions.Unbounded };
        var seen = 0;
        await using var failing = await bus.ListenAsync("s", "#x", _ => throw new InvalidOperationException("boom"), inline, Ct);
        await using var healthy = await bus.ListenAsync("s", "#x", _ => Interlocked.Increment(ref seen), inline, Ct);
        await sender.TriggerAsync("#x", cancellationToken: Ct);
        await sender.TriggerAsync("#x", cancellationToken: Ct);
        Assert.Equal(2, seen);
        Assert.Equal(2, failing.Faults);
        Assert.Equal(2, bus.Counters.HandlerFaults);
        await failing.DisposeAsync();
        await sender.TriggerAsync("#x", cancellationToken: Ct);
        Assert.Equal(3, seen);
        Assert.Equal(2, failing.Faults);
    }
}
