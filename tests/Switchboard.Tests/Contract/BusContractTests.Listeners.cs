using Switchboard.Tests.Support;

namespace Switchboard.Tests.Contract;

public abstract partial class BusContractTests
{
    [Fact]
    public async Task A_queue_listener_reads_with_await_foreach_try_read_and_read_async()
    {
        var bus = await NewBusAsync();
        await using var s = await bus.AddSenderAsync("q", ["n"], cancellationToken: Ct);
        await using var queue = await bus.ListenAsync("q", "n", cancellationToken: Ct);
        Assert.False(queue.TryRead(out _));
        for (var i = 0; i < 5; i++)
        {
            await s.TriggerAsync("n", Payload.Json(i), cancellationToken: Ct);
        }

        Assert.Equal(0, (await queue.NextAsync()).As<int>());
        await Wait.UntilAsync(() => queue.Pending == 4, "four messages are pending");
        Assert.True(queue.TryRead(out var second));
        Assert.Equal(1, second.As<int>());
        var rest = new List<int>();
        await foreach (var message in queue.ReadAllAsync(Ct))
        {
            rest.Add(message.As<int>());
            if (rest.Count == 3)
            {
                break;
            }
        }

        Assert.Equal([2, 3, 4], rest);
    }

    [Fact]
    public async Task Queue_group_members_share_the_messages_and_ungrouped_listeners_get_all()
    {
        const int count = 60;
        var publisher = await NewBusAsync();
        var workers = await NewBusAsync();
        await using var s = await publisher.AddSenderAsync("jobs", ["#job"], cancellationToken: Ct);
        var members = new List<IListenerQueue>();
        for (var i = 0; i < 3; i++)
        {
            members.Add(await workers.ListenAsync(null, "#job", new ListenerOptions { Group = "workers" }, Ct));
        }

        await using var audit = await workers.ListenAsync(null, "#job", cancellationToken: Ct);
        for (var i = 0; i < count; i++)
        {
            await s.TriggerAsync("#job", Payload.Json(i), cancellationToken: Ct);
        }

        await SettleAsync(workers);
        var perMember = members.Select(m => Drain(m).Select(x => x.As<int>()).ToList()).ToList();
        Assert.Equal(Enumerable.Range(0, count), perMember.SelectMany(x => x).Order());
        Assert.All(perMember, got => Assert.NotEmpty(got));
        Assert.Equal(count, Drain(audit).Count);
        foreach (var member in members)
        {
            await member.DisposeAsync();
        }
    }

    [Fact]
    public async Task Drop_oldest_keeps_the_newest_messages_and_counts_the_drops()
    {
        var bus = await NewBusAsync();
        await using var s = await bus.AddSenderAsync("burst", ["n"], cancellationToken: Ct);
        await using var queue = await bus.ListenAsync("burst", "n", new ListenerOptions { Capacity = 4, Overflow = OverflowPolicy.DropOldest }, Ct);
        for (var i = 0; i < 10; i++)
        {
            await s.TriggerAsync("n", Payload.Json(i), cancellationToken: Ct);
        }

        await Wait.UntilAsync(() => queue.Dropped == 6, "six drops are counted");
        Assert.Equal([6, 7, 8, 9], Drain(queue).Select(m => m.As<int>()));
        Assert.True(bus.Counters.ListenerDrops >= 6);
    }

    [Fact]
    public async Task Drop_newest_keeps_the_oldest_messages_and_counts_the_drops()
    {
        var bus = await NewBusAsync();
        await using var s = await bus.AddSenderAsync("burst", ["n"], cancellationToken: Ct);
        await using var queue = await bus.ListenAsync("burst", "n", new ListenerOptions { Capacity = 4, Overflow = OverflowPolicy.DropNewest }, Ct);
        for (var i = 0; i < 10; i++)
        {
            await s.TriggerAsync("n", Payload.Json(i), cancellationToken: Ct);
        }

        await Wait.UntilAsync(() => queue.Dropped == 6, "six drops are counted");
        Assert.Equal([0, 1, 2, 3], Drain(queue).Select(m => m.As<int>()));
    }

    [Fact]
    public async Task Fail_cuts_a_listener_that_falls_behind_and_its_reader_sees_why()
    {
        var bus = await NewBusAsync();
        await using var s = await bus.AddSenderAsync("flood", ["n"], cancellationToken: Ct);
        await using var queue = await bus.ListenAsync("flood", "n", new ListenerOptions { Capacity = 3, Overflow = OverflowPolicy.Fail }, Ct);
        await using var healthy = await bus.ListenAsync("flood", "n", new ListenerOptions { Capacity = 100 }, Ct);
        for (var i = 0; i < 6; i++)
        {
            await s.TriggerAsync("n", Payload.Json(i), cancellationToken: Ct);
        }

        var error = await Assert.ThrowsAsync<ListenerOverflowException>(() => queue.Completion.WithinAsync("the cut listener completing"));
        Assert.Equal(ErrorCodes.Overflow, error.Code);
        var read = new List<int>();
        var failure = await Assert.ThrowsAsync<ListenerOverflowException>(async () =>
        {
            await foreach (var message in queue.ReadAllAsync(Ct))
            {
                read.Add(message.As<int>());
            }
        });
        Assert.Equal([0, 1, 2], read);
        Assert.Contains("Capacity", failure.Message, StringComparison.Ordinal);
        Assert.True(queue.Dropped >= 1);
        await SettleAsync(bus);
        Assert.Equal(6, Drain(healthy).Count);
    }

    [Fact]
    public async Task Wait_holds_the_publisher_until_the_listener_makes_room()
    {
        var bus = await NewBusAsync();
        await using var s = await bus.AddSenderAsync("steady", ["n"], cancellationToken: Ct);
        await using var queue = await bus.ListenAsync("steady", "n", new ListenerOptions { Capacity = 2, Overflow = OverflowPolicy.Wait }, Ct);
        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < 20; i++)
            {
                await s.TriggerAsync("n", Payload.Json(i), cancellationToken: Ct);
            }
        }, Ct);

        var got = new List<int>();
        for (var i = 0; i < 20; i++)
        {
            got.Add((await queue.NextAsync()).As<int>());
        }

        await publishing.WithinAsync("the publisher finishing");
        Assert.Equal(Enumerable.Range(0, 20), got);
        Assert.Equal(0, queue.Dropped);
    }

    [Fact]
    public async Task A_callback_runs_one_message_at_a_time_even_with_concurrent_senders()
    {
        const int perSender = 500;
        var bus = await NewBusAsync();
        var listening = await NewBusAsync();
        var senders = new List<ISender>();
        for (var i = 0; i < 4; i++)
        {
            senders.Add(await bus.AddSenderAsync($"c{i}", ["#hit"], cancellationToken: Ct));
        }

        var inside = 0;
        var overlaps = 0;
        var handled = 0;
        await using var listener = await listening.ListenAsync(null, "#hit", async (_, _) =>
        {
            if (Interlocked.Increment(ref inside) > 1)
            {
                Interlocked.Increment(ref overlaps);
            }

            if (Interlocked.Increment(ref handled) % 50 == 0)
            {
                await Task.Yield();
            }

            Interlocked.Decrement(ref inside);
        }, new ListenerOptions { Capacity = 4 * perSender }, Ct);

        await Task.WhenAll(senders.Select(s => Task.Run(async () =>
        {
            for (var i = 0; i < perSender; i++)
            {
                await s.TriggerAsync("#hit", cancellationToken: Ct);
            }
        }, Ct)));
        await Wait.UntilAsync(() => Volatile.Read(ref handled) == 4 * perSender, "every message was handled");
        Assert.Equal(0, overlaps);
        foreach (var s in senders)
        {
            await s.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(ListenerOptions.Unbounded)]
    public async Task A_callback_that_borrows_data_reads_every_payload_intact_and_in_order(int maxConcurrency)
    {
        const int Count = 2_000;
        var bus = await NewBusAsync();
        var listening = await NewBusAsync();
        await using var sender = await bus.AddSenderAsync("lender", ["#blob"], cancellationToken: Ct);
        var seen = new List<int>();
        var corrupt = 0;
        await using var listener = await listening.ListenAsync("lender", "#blob", (message, _) =>
        {
            // Read during the callback, as BorrowData allows: the payload is i repeated in every 4-byte word.
            var span = message.Data.Bytes.Span;
            var first = BitConverter.ToInt32(span);
            for (var offset = 0; offset < span.Length; offset += 4)
            {
                if (BitConverter.ToInt32(span[offset..]) != first)
                {
                    Interlocked.Increment(ref corrupt);
                }
            }

            lock (seen)
            {
                seen.Add(first);
            }

            return ValueTask.CompletedTask;
        }, new ListenerOptions { BorrowData = true, MaxConcurrency = maxConcurrency, Capacity = Count }, Ct);
        await SettleAsync(listening);

        for (var i = 0; i < Count; i++)
        {
            var words = Enumerable.Repeat(i, 16 + (i % 64)).SelectMany(BitConverter.GetBytes).ToArray();
            await sender.TriggerAsync("#blob", Payload.From(words), cancellationToken: Ct);
        }

        await Wait.UntilAsync(() => { lock (seen) { return seen.Count == Count; } }, "every payload was handled");
        Assert.Equal(0, corrupt);
        Assert.Equal(Enumerable.Range(0, Count), seen); // one sender, one connection: order holds in both modes
    }

    [Fact]
    public async Task Max_concurrency_runs_callbacks_in_parallel()
    {
        var bus = await NewBusAsync();
        await using var s = await bus.AddSenderAsync("par", ["n"], cancellationToken: Ct);
        var inside = 0;
        var peak = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var done = 0;
        await using var listener = await bus.ListenAsync("par", "n", async (_, _) =>
        {
            var now = Interlocked.Increment(ref inside);
            InterlockedMax(ref peak, now);
            await release.Task;
            Interlocked.Decrement(ref inside);
            Interlocked.Increment(ref done);
        }, new ListenerOptions { MaxConcurrency = 4 }, Ct);

        for (var i = 0; i < 8; i++)
        {
            await s.TriggerAsync("n", cancellationToken: Ct);
        }

        await Wait.UntilAsync(() => Volatile.Read(ref peak) == 4, "four callbacks run at once");
        release.SetResult();
        await Wait.UntilAsync(() => Volatile.Read(ref done) == 8, "all eight callbacks finish");
        Assert.Equal(4, peak);
    }

    [Fact]
    public async Task A_throwing_callback_is_counted_and_the_listener_keeps_running()
    {
        var bus = await NewBusAsync();
        await using var s = await bus.AddSenderAsync("faulty", ["n"], cancellationToken: Ct);
        var seen = new List<int>();
        await using var listener = await bus.ListenAsync("faulty", "n", message =>
        {
            var n = message.As<int>();
            if (n == 1)
            {
                throw new InvalidOperationException("bad message");
            }

            lock (seen)
            {
                seen.Add(n);
            }
        }, cancellationToken: Ct);
        for (var i = 0; i < 3; i++)
        {
            await s.TriggerAsync("n", Payload.Json(i), cancellationToken: Ct);
        }

        await Wait.UntilAsync(() => { lock (seen) { return seen.Count == 2; } }, "the two good messages are handled");
        Assert.Equal([0, 2], seen);
        Assert.Equal(1, listener.Faults);
    }

    [Fact]
    public async Task A_disposed_listener_receives_nothing_more()
    {
        var bus = await NewBusAsync();
        await using var s = await bus.AddSenderAsync("d", ["n"], cancellationToken: Ct);
        var count = 0;
        var listener = await bus.ListenAsync("d", "n", _ => Interlocked.Increment(ref count), cancellationToken: Ct);
        await s.TriggerAsync("n", cancellationToken: Ct);
        await Wait.UntilAsync(() => Volatile.Read(ref count) == 1, "the first message arrives");
        await listener.DisposeAsync();
        await listener.Completion.WithinAsync("the listener completing");
        await s.TriggerAsync("n", cancellationToken: Ct);
        await SettleAsync(bus);
        Assert.Equal(1, count);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
