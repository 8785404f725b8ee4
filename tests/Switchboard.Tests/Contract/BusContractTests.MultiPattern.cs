using System.Collections.Concurrent;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Contract;

/// <summary>One listener for several patterns (seed 002's <c>subscribe([a, c])</c>).</summary>
public abstract partial class BusContractTests
{
    [Fact]
    public async Task One_queue_for_several_patterns_gets_each_message_once_in_the_order_triggered()
    {
        var publisher = await NewBusAsync();
        var subscriber = await NewBusAsync();
        await using var queue = await subscriber.ListenAsync("multi-bot", ["#a", "#c"], cancellationToken: Ct);
        Assert.Equal(["#a", "#c"], queue.Events);
        await using var bot = await publisher.AddSenderAsync("multi-bot", ["#a", "#b", "#c"], cancellationToken: Ct);
        await bot.TriggerAsync("#a", Payload.Json(1), cancellationToken: Ct);
        await bot.TriggerAsync("#b", Payload.Json(2), cancellationToken: Ct);
        await bot.TriggerAsync("#c", Payload.Json(3), cancellationToken: Ct);
        await bot.TriggerAsync(["#a", "#c"], Payload.Json(4), cancellationToken: Ct);

        var got = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var m = await queue.NextAsync();
            got.Add($"{m.Event}={m.As<int>()}");
        }

        Assert.Equal(["#a=1", "#c=3", "#a=4", "#c=4"], got);
        await SettleAsync(subscriber);
        Assert.Empty(Drain(queue));
    }

    [Fact]
    public async Task One_callback_for_several_channel_patterns_of_any_sender_runs_once_per_message()
    {
        var publisher = await NewBusAsync();
        var subscriber = await NewBusAsync();
        var seen = new ConcurrentQueue<string>();
        await using var listener = await subscriber.ListenAsync(null, ["#alerts.>", "#status"], (m, _) =>
        {
            seen.Enqueue($"{m.Sender}/{m.Event}");
            return default;
        }, cancellationToken: Ct);
        await using var first = await publisher.AddSenderAsync("plant-1", ["#alerts.fire", "#status", "#other"], cancellationToken: Ct);
        await using var second = await publisher.AddSenderAsync("plant-2", ["#alerts.>"], cancellationToken: Ct);
        await first.TriggerAsync("#alerts.fire", cancellationToken: Ct);
        await first.TriggerAsync("#other", cancellationToken: Ct);
        await first.TriggerAsync("#status", cancellationToken: Ct);
        await second.TriggerAsync("#alerts.flood.north", cancellationToken: Ct);
        await Wait.UntilAsync(() => seen.Count >= 3, "three matching messages");
        await SettleAsync(subscriber);
        Assert.Equal(["plant-1/#alerts.fire", "plant-1/#status", "plant-2/#alerts.flood.north"], seen.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Overlapping_patterns_in_one_listener_are_refused_and_repeats_are_ignored()
    {
        var bus = await NewBusAsync();
        var error = await Assert.ThrowsAsync<SwitchboardException>(async () => await bus.ListenAsync(null, ["#a.>", "#a.b"], cancellationToken: Ct));
        Assert.Equal(ErrorCodes.InvalidArgument, error.Code);
        Assert.Contains("'#a.>' and '#a.b' overlap", error.Message, StringComparison.Ordinal);
        var wildcards = await Assert.ThrowsAsync<SwitchboardException>(async () => await bus.ListenAsync("s", ["x.*.z", "x.y.*"], cancellationToken: Ct));
        Assert.Equal(ErrorCodes.InvalidArgument, wildcards.Code);
        var targeted = await Assert.ThrowsAsync<SwitchboardException>(async () => await bus.ListenAsync(null, ["#ok", "targeted"], cancellationToken: Ct));
        Assert.Equal(ErrorCodes.TargetedNeedsSender, targeted.Code);
        await using var repeated = await bus.ListenAsync("s", ["#a", "#a", "#b.*"], cancellationToken: Ct);
        Assert.Equal(["#a", "#b.*"], repeated.Events);
    }

    [Fact]
    public async Task Disposing_a_listener_of_several_patterns_stops_every_pattern()
    {
        var publisher = await NewBusAsync();
        var subscriber = await NewBusAsync();
        var count = 0;
        var listener = await subscriber.ListenAsync("stopper", ["#one", "#two"], (_, _) =>
        {
            Interlocked.Increment(ref count);
            return default;
        }, cancellationToken: Ct);
        await using var stopper = await publisher.AddSenderAsync("stopper", ["#one", "#two"], cancellationToken: Ct);
        await stopper.TriggerAsync("#one", cancellationToken: Ct);
        await Wait.UntilAsync(() => Volatile.Read(ref count) == 1, "the first message");
        await listener.DisposeAsync();
        await listener.Completion.WithinAsync("the listener completing");
        await stopper.TriggerAsync("#one", cancellationToken: Ct);
        await stopper.TriggerAsync("#two", cancellationToken: Ct);
        await SettleAsync(subscriber);
        Assert.Equal(1, Volatile.Read(ref count));
    }
}
