using Switchboard.Routing;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Bus;

/// <summary>
/// An ordered callback listener reserved for the thread that keeps delivering to it (no interlocked claim per
/// message) keeps every promise of the default listener when other threads, nested triggers, asynchronous callbacks,
/// faults and disposal come in: one callback at a time, each publisher's order, nothing lost, nothing after dispose.
/// </summary>
public sealed class ListenerReservationTests
{
    private const int Warm = 200;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Other_threads_joining_a_reserved_listener_keep_one_callback_at_a_time_order_and_every_message()
    {
        const int publishers = 4;
        const int each = 5_000;
        await using var bus = new LocalBus();
        var senders = new ISender[publishers];
        for (var p = 0; p < publishers; p++)
        {
            senders[p] = await bus.AddSenderAsync($"p{p}", ["#tick"], cancellationToken: Ct);
        }

        var inside = 0;
        var overlaps = 0;
        var outOfOrder = 0;
        var handled = 0;
        var last = new int[publishers];
        Array.Fill(last, -1);
        var listener = (Listener)await bus.ListenAsync(null, "#tick", (message, _) =>
        {
            if (Interlocked.Increment(ref inside) > 1)
            {
                Interlocked.Increment(ref overlaps);
            }

            var publisher = message.Sender[1] - '0';
            var sequence = message.As<int>();
            if (sequence != last[publisher] + 1)
            {
                Interlocked.Increment(ref outOfOrder);
            }

            last[publisher] = sequence;
            Interlocked.Increment(ref handled);
            Interlocked.Decrement(ref inside);
            return default;
        }, new ListenerOptions { Capacity = publishers * each }, Ct);

        RunOnThread(() => Trigger(senders[0], 0, Warm, "#tick"));
        Assert.True(listener.IsReserved, "a listener fed by one thread is reserved for it");
        var threads = Enumerable.Range(0, publishers)
            .Select(p => StartThread(() => Trigger(senders[p], p == 0 ? Warm : 0, each - (p == 0 ? Warm : 0), "#tick")))
            .ToArray();
        foreach (var thread in threads)
        {
            thread.Join();
        }

        await Wait.UntilAsync(() => Volatile.Read(ref handled) == publishers * each, "every message was handled");
        Assert.Equal(0, overlaps);
        Assert.Equal(0, outOfOrder);
        Assert.Equal(0, listener.Dropped);
    }

    [Fact]
    public async Task A_callback_triggering_its_own_event_under_the_reservation_runs_it_after_itself()
    {
        await using var bus = new LocalBus();
        await using var sender = await bus.AddSenderAsync("s", ["tick"], cancellationToken: Ct);
        var inside = 0;
        var overlaps = 0;
        var seen = new List<int>();
        await using var listener = await bus.ListenAsync("s", "tick", (message, _) =>
        {
            if (Interlocked.Increment(ref inside) > 1)
            {
                Interlocked.Increment(ref overlaps);
            }

            var value = message.As<int>();
            lock (seen)
            {
                seen.Add(value);
            }

            if (value == Warm)
            {
                sender.TriggerAsync("tick", Payload.Json(-1)).AsTask().GetAwaiter().GetResult();
            }

            Interlocked.Decrement(ref inside);
            return default;
        }, cancellationToken: Ct);

        RunOnThread(() => Trigger(sender, 0, Warm + 1));
        await Wait.UntilAsync(() => Count(seen) == Warm + 2, "the nested trigger was delivered");
        Assert.Equal(0, overlaps);
        lock (seen)
        {
            Assert.Equal(Warm, seen.IndexOf(-1) - 1); // right after the callback that triggered it
        }

        RunOnThread(() => Trigger(sender, Warm + 1, 10));
        await Wait.UntilAsync(() => Count(seen) == Warm + 12, "later triggers are still delivered");
    }

    [Fact]
    public async Task An_asynchronous_callback_under_the_reservation_holds_the_next_message_until_it_finishes()
    {
        await using var bus = new LocalBus();
        await using var sender = await bus.AddSenderAsync("s", ["tick"], cancellationToken: Ct);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = 0;
        var afterGate = 0;
        await using var listener = await bus.ListenAsync("s", "tick", async (message, _) =>
        {
            if (message.As<int>() == Warm)
            {
                await gate.Task;
            }

            Interlocked.Increment(ref handled);
            if (gate.Task.IsCompleted)
            {
                Interlocked.Increment(ref afterGate);
            }
        }, cancellationToken: Ct);

        RunOnThread(() => Trigger(sender, 0, Warm + 5));
        Assert.Equal(Warm, Volatile.Read(ref handled)); // the rest wait behind the callback that went asynchronous
        gate.SetResult();
        await Wait.UntilAsync(() => Volatile.Read(ref handled) == Warm + 5, "the queued messages ran after it");
        Assert.Equal(5, Volatile.Read(ref afterGate));
        RunOnThread(() => Trigger(sender, Warm + 5, Warm));
        await Wait.UntilAsync(() => Volatile.Read(ref handled) == 2 * Warm + 5, "the listener keeps delivering");
    }

    [Fact]
    public async Task A_callback_throwing_under_the_reservation_is_counted_and_the_next_message_still_runs()
    {
        await using var bus = new LocalBus();
        await using var sender = await bus.AddSenderAsync("s", ["tick"], cancellationToken: Ct);
        var handled = 0;
        await using var listener = await bus.ListenAsync("s", "tick", (message, _) =>
        {
            Interlocked.Increment(ref handled);
            return message.As<int>() % 100 == 99 ? throw new InvalidOperationException("boom") : default(ValueTask);
        }, cancellationToken: Ct);

        RunOnThread(() => Trigger(sender, 0, 1000));
        Assert.Equal(1000, Volatile.Read(ref handled));
        Assert.Equal(10, listener.Faults);
    }

    [Fact]
    public async Task A_callback_throwing_among_reserved_listeners_leaves_the_ones_after_it_every_message_in_order()
    {
        await using var bus = new LocalBus();
        await using var sender = await bus.AddSenderAsync("s", ["tick"], cancellationToken: Ct);
        var before = new List<int>();
        var after = new List<int>();
        await using var first = await bus.ListenAsync("s", "tick", (message, _) => Record(before, message), cancellationToken: Ct);
        await using var failing = await bus.ListenAsync("s", "tick", (message, _) =>
            message.As<int>() % 7 == 0 ? throw new InvalidOperationException("boom") : default(ValueTask), cancellationToken: Ct);
        await using var last = await bus.ListenAsync("s", "tick", (message, _) => Record(after, message), cancellationToken: Ct);

        RunOnThread(() => Trigger(sender, 0, 700));

        Assert.Equal(Enumerable.Range(0, 700), before);
        Assert.Equal(Enumerable.Range(0, 700), after);
        Assert.Equal(100, failing.Faults);
        Assert.True(((Listener)last).IsReserved, "a neighbour's fault does not cost the others their reservation");

        static ValueTask Record(List<int> seen, BusMessage message)
        {
            seen.Add(message.As<int>());
            return default;
        }
    }

    [Fact]
    public async Task A_reserved_listener_disposed_receives_nothing_more()
    {
        await using var bus = new LocalBus();
        await using var sender = await bus.AddSenderAsync("s", ["tick"], cancellationToken: Ct);
        var handled = 0;
        var listener = (Listener)await bus.ListenAsync("s", "tick", (_, _) =>
        {
            Interlocked.Increment(ref handled);
            return default;
        }, cancellationToken: Ct);

        RunOnThread(() => Trigger(sender, 0, Warm));
        Assert.True(listener.IsReserved);
        await listener.DisposeAsync();
        Assert.False(listener.IsReserved, "closing a listener ends its reservation (a reserved run does not check the closed flag)");
        RunOnThread(() => Trigger(sender, Warm, 10));
        Assert.Equal(Warm, Volatile.Read(ref handled));
    }

    private static void Trigger(ISender sender, int first, int count, string @event = "tick")
    {
        for (var i = first; i < first + count; i++)
        {
            sender.TriggerAsync(@event, Payload.Json(i)).AsTask().GetAwaiter().GetResult();
        }
    }

    private static int Count(List<int> seen)
    {
        lock (seen)
        {
            return seen.Count;
        }
    }

    /// <summary>A dedicated thread, so every trigger of the run comes from one managed thread (awaits could hop).</summary>
    private static Thread StartThread(Action work)
    {
        var thread = new Thread(() => work()) { IsBackground = true };
        thread.Start();
        return thread;
    }

    private static void RunOnThread(Action work) => StartThread(work).Join();
}
