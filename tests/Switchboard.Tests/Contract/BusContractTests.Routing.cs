using System.Text.Json.Serialization;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Contract;

public abstract partial class BusContractTests
{
    [Fact]
    public async Task Listener_for_sender_and_event_receives_only_that_event_from_that_sender()
    {
        var publisher = await NewBusAsync();
        var listening = await NewBusAsync();
        await using var timer = await publisher.AddSenderAsync("timer", ["tick", "tock", "#tick"], cancellationToken: Ct);
        await using var other = await publisher.AddSenderAsync("other", ["tick"], cancellationToken: Ct);
        await using var queue = await listening.ListenAsync("timer", "tick", cancellationToken: Ct);

        await other.TriggerAsync("tick", Payload.Utf8("from other"), cancellationToken: Ct);
        await timer.TriggerAsync("tock", Payload.Utf8("tock"), cancellationToken: Ct);
        await timer.TriggerAsync("#tick", Payload.Utf8("channel"), cancellationToken: Ct);
        await timer.TriggerAsync("tick", Payload.Utf8("yes"), cancellationToken: Ct);
        await SettleAsync(listening);

        var got = Drain(queue);
        Assert.True(got.Count == 1, $"expected only timer/tick, got: {Describe(got)}");
        Assert.Equal(("timer", "tick", "yes"), (got[0].Sender, got[0].Event, got[0].Data.ToString()));
    }

    [Fact]
    public async Task Listener_for_sender_and_channel_event_receives_it_only_from_that_sender()
    {
        var bus = await NewBusAsync();
        await using var s1 = await bus.AddSenderAsync("s1", ["#temp"], cancellationToken: Ct);
        await using var s2 = await bus.AddSenderAsync("s2", ["#temp"], cancellationToken: Ct);
        await using var queue = await bus.ListenAsync("s1", "#temp", cancellationToken: Ct);

        await s2.TriggerAsync("#temp", Payload.Utf8("2"), cancellationToken: Ct);
        await s1.TriggerAsync("#temp", Payload.Utf8("1"), cancellationToken: Ct);
        await SettleAsync(bus);

        var got = Drain(queue);
        Assert.Equal(["s1/#temp=1"], got.Select(m => $"{m.Sender}/{m.Event}={m.Data}"));
    }

    [Fact]
    public async Task Sender_broadcast_receives_every_event_of_that_sender_and_nothing_else()
    {
        var bus = await NewBusAsync();
        var listening = await NewBusAsync();
        await using var s1 = await bus.AddSenderAsync("s1", ["a", "b.c", "#d"], cancellationToken: Ct);
        await using var s2 = await bus.AddSenderAsync("s2", ["a"], cancellationToken: Ct);
        await using var queue = await listening.ListenAsync("s1", null, cancellationToken: Ct);

        await s1.TriggerAsync("a", cancellationToken: Ct);
        await s2.TriggerAsync("a", cancellationToken: Ct);
        await s1.TriggerAsync("b.c", cancellationToken: Ct);
        await s1.TriggerAsync("#d", cancellationToken: Ct);
        await SettleAsync(listening);

        Assert.Equal(["s1/a", "s1/b.c", "s1/#d"], Drain(queue).Select(m => $"{m.Sender}/{m.Event}"));
    }

    [Fact]
    public async Task Channel_listener_for_any_sender_receives_the_channel_event_from_every_sender()
    {
        var bus = await NewBusAsync();
        var listening = await NewBusAsync();
        await using var kitchen = await bus.AddSenderAsync("kitchen", ["#temperature", "temperature"], cancellationToken: Ct);
        await using var garage = await bus.AddSenderAsync("garage", ["#temperature"], cancellationToken: Ct);
        await using var queue = await listening.ListenAsync(null, "#temperature", cancellationToken: Ct);

        await kitchen.TriggerAsync("#temperature", Payload.Json(21), cancellationToken: Ct);
        await kitchen.TriggerAsync("temperature", Payload.Json(99), cancellationToken: Ct);
        await garage.TriggerAsync("#temperature", Payload.Json(7), cancellationToken: Ct);
        await SettleAsync(listening);

        var got = Drain(queue).Select(m => $"{m.Sender}={m.Data.As<int>()}").Order().ToList();
        Assert.Equal(["garage=7", "kitchen=21"], got);
    }

    [Fact]
    public async Task Listener_for_any_sender_and_a_targeted_event_is_refused_with_the_fix()
    {
        var bus = await NewBusAsync();
        var error = await Assert.ThrowsAsync<SwitchboardException>(async () => await bus.ListenAsync(null, "tick", cancellationToken: Ct));
        Assert.Equal(ErrorCodes.TargetedNeedsSender, error.Code);
        Assert.Contains("Name the sender", error.Message, StringComparison.Ordinal);
        Assert.Contains("'#tick'", error.Message, StringComparison.Ordinal);

        var wildcard = await Assert.ThrowsAsync<SwitchboardException>(async () => await bus.ListenAsync(null, "*.temp", (_, _) => default, cancellationToken: Ct));
        Assert.Equal(ErrorCodes.TargetedNeedsSender, wildcard.Code);
    }

    [Fact]
    public async Task Bus_broadcast_receives_every_event_of_every_sender()
    {
        var bus = await NewBusAsync();
        var listening = await NewBusAsync();
        await using var queue = await listening.ListenAsync(null, null, cancellationToken: Ct);
        await using var s1 = await bus.AddSenderAsync("b1", ["x", "#y"], cancellationToken: Ct);
        await using var s2 = await bus.AddSenderAsync("b2", ["z.w"], cancellationToken: Ct);
        await s1.TriggerAsync("x", cancellationToken: Ct);
        await s1.TriggerAsync("#y", cancellationToken: Ct);
        await s2.TriggerAsync("z.w", cancellationToken: Ct);
        await SettleAsync(listening);

        var got = Drain(queue).Where(m => !m.Event.StartsWith("#connect", StringComparison.Ordinal)).Select(m => $"{m.Sender}/{m.Event}").ToList();
        Assert.Equal(["b1/x", "b1/#y", "b2/z.w"], got);
    }

    [Fact]
    public async Task Wildcards_match_one_token_with_star_and_the_rest_with_greater_than()
    {
        var bus = await NewBusAsync();
        await using var sensors = await bus.AddSenderAsync("sensors", ["sensors.kitchen.temp", "sensors.kitchen.humidity", "sensors.garage.temp", "sensors.temp", "#alerts", "#alerts.fire", "#alerts.fire.kitchen"], cancellationToken: Ct);
        await using var star = await bus.ListenAsync("sensors", "sensors.*.temp", cancellationToken: Ct);
        await using var tail = await bus.ListenAsync(null, "#alerts.>", cancellationToken: Ct);

        foreach (var e in sensors.Events)
        {
            await sensors.TriggerAsync(e, cancellationToken: Ct);
        }

        await SettleAsync(bus);
        Assert.Equal(["sensors.kitchen.temp", "sensors.garage.temp"], Drain(star).Select(m => m.Event));
        Assert.Equal(["#alerts.fire", "#alerts.fire.kitchen"], Drain(tail).Select(m => m.Event));
    }

    [Fact]
    public async Task Targeted_and_channel_events_of_the_same_name_are_different_events()
    {
        var bus = await NewBusAsync();
        await using var s = await bus.AddSenderAsync("s", ["temp", "#temp"], cancellationToken: Ct);
        await using var targeted = await bus.ListenAsync("s", "temp", cancellationToken: Ct);
        await using var channel = await bus.ListenAsync("s", "#temp", cancellationToken: Ct);
        await s.TriggerAsync("temp", Payload.Utf8("t"), cancellationToken: Ct);
        await s.TriggerAsync("#temp", Payload.Utf8("c"), cancellationToken: Ct);
        await SettleAsync(bus);
        Assert.Equal(["t"], Drain(targeted).Select(m => m.Data.ToString()));
        Assert.Equal(["c"], Drain(channel).Select(m => m.Data.ToString()));
    }

    [Fact]
    public async Task One_trigger_can_name_several_channel_events()
    {
        var bus = await NewBusAsync();
        await using var s = await bus.AddSenderAsync("multi", ["#a", "#b", "#c"], cancellationToken: Ct);
        await using var a = await bus.ListenAsync(null, "#a", cancellationToken: Ct);
        await using var b = await bus.ListenAsync(null, "#b", cancellationToken: Ct);
        await using var c = await bus.ListenAsync(null, "#c", cancellationToken: Ct);
        await s.TriggerAsync(["#a", "#b"], Payload.Utf8("both"), cancellationToken: Ct);
        await SettleAsync(bus);
        Assert.Equal(["both"], Drain(a).Select(m => m.Data.ToString()));
        Assert.Equal(["both"], Drain(b).Select(m => m.Data.ToString()));
        Assert.Empty(Drain(c));
    }

    [Fact]
    public async Task Headers_raw_bytes_and_typed_payloads_arrive_intact()
    {
        var bus = await NewBusAsync();
        await using var s = await bus.AddSenderAsync("typed", ["raw", "json", "gen"], cancellationToken: Ct);
        await using var queue = await bus.ListenAsync("typed", null, cancellationToken: Ct);
        byte[] raw = [0, 1, 2, 255, 254];
        await s.TriggerAsync("raw", raw, MessageHeaders.Of(("traceparent", "00-abc-def-01"), ("x-n", "1")), cancellationToken: Ct);
        await s.TriggerAsync("json", Payload.Json(new Reading("kitchen", 21.5)), cancellationToken: Ct);
        await s.TriggerAsync("gen", Payload.Json(new Reading("garage", 7), TestJsonContext.Default.Reading), cancellationToken: Ct);

        var first = await queue.NextAsync();
        Assert.Equal(raw, first.Data.Bytes.ToArray());
        Assert.Equal("00-abc-def-01", first.Headers["traceparent"]);
        Assert.Equal("1", first.Headers["x-n"]);
        Assert.Equal(new Reading("kitchen", 21.5), (await queue.NextAsync()).As<Reading>());
        Assert.Equal(new Reading("garage", 7), (await queue.NextAsync()).Data.As(TestJsonContext.Default.Reading));
    }

    [Fact]
    public async Task Order_is_kept_from_one_sender_to_one_listener()
    {
        const int count = 5_000;
        var bus = await NewBusAsync();
        var listening = await NewBusAsync();
        await using var s = await bus.AddSenderAsync("ordered", ["n"], cancellationToken: Ct);
        var seen = new List<int>(count);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var callback = await listening.ListenAsync("ordered", "n", message =>
        {
            seen.Add(BitConverter.ToInt32(message.Data.Bytes.Span));
            if (seen.Count == count)
            {
                done.TrySetResult();
            }
        }, cancellationToken: Ct);
        await using var queue = await listening.ListenAsync("ordered", "n", new ListenerOptions { Capacity = count }, Ct);

        for (var i = 0; i < count; i++)
        {
            await s.TriggerAsync("n", BitConverter.GetBytes(i), cancellationToken: Ct);
        }

        await done.Task.WithinAsync("every message reaching the callback");
        Assert.Equal(Enumerable.Range(0, count), seen);
        var fromQueue = new List<int>(count);
        for (var i = 0; i < count; i++)
        {
            fromQueue.Add(BitConverter.ToInt32((await queue.NextAsync()).Data.Bytes.Span));
        }

        Assert.Equal(Enumerable.Range(0, count), fromQueue);
    }

    public sealed record Reading(string Room, double Celsius);
}

[JsonSerializable(typeof(BusContractTests.Reading))]
internal sealed partial class TestJsonContext : JsonSerializerContext;
