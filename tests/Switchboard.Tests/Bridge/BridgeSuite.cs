using System.Text.Json;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Bridge;

/// <summary>
/// What every bridge does, whatever the two buses: run against a <see cref="LocalBus"/> bridged to a broker's client
/// and against two clients of two brokers. "Near" is the bus <c>BridgeAsync</c> is called on, "far" the other; the
/// application's senders and listeners are other participants of those buses (peers), as in a real deployment.
/// </summary>
public abstract class BridgeSuite : BridgeTestBase
{
    /// <summary>A participant of the near bus (the first call makes the bus).</summary>
    protected abstract Task<IBus> NearAsync();

    /// <summary>A participant of the far bus (the first call makes the bus).</summary>
    protected abstract Task<IBus> FarAsync();

    private static BridgeRoute Route(params BridgeFilter[] filters) => new() { Events = filters };

    [Fact]
    public async Task One_way_outbound_forwards_in_order_under_the_origin_senders_name_and_nothing_comes_back()
    {
        var near = await NearAsync();
        var far = await FarAsync();
        var nearApp = await NearAsync();
        var farApp = await FarAsync();
        var bridge = await BridgeAsync(near, far, new BridgeOptions { Outbound = Route(new BridgeFilter("kitchen", "tick"), "#temp.>") });
        await using var ticks = await farApp.ListenAsync("kitchen", "tick", cancellationToken: Ct);
        await using var temps = await farApp.ListenAsync(null, "#temp.>", cancellationToken: Ct);
        await using var backHome = await nearApp.ListenAsync(null, "#temp.>", cancellationToken: Ct);
        var kitchen = await nearApp.AddSenderAsync("kitchen", ["tick", "#temp.kitchen"], cancellationToken: Ct);
        await using var garden = await farApp.AddSenderAsync("garden", ["#temp.garden"], cancellationToken: Ct);
        for (var i = 1; i <= 50; i++)
        {
            await kitchen.TriggerAsync("tick", Payload.Json(i), cancellationToken: Ct);
            await kitchen.TriggerAsync("#temp.kitchen", Payload.Json(i), cancellationToken: Ct);
        }

        await garden.TriggerAsync("#temp.garden", Payload.Json(-1), cancellationToken: Ct);
        var got = await ReadAsync(ticks, 50);
        Assert.Equal(Enumerable.Range(1, 50), got.Select(m => m.As<int>()));
        Assert.All(got, m => Assert.Equal("kitchen", m.Sender));
        Assert.All(got, m => Assert.Equal("kitchen", m.Headers[BridgeHeaders.Origin]));
        Assert.All(got, m => Assert.Equal(bridge.Name, m.Headers[BridgeHeaders.Via]));
        var channel = await ReadAsync(temps, 51);
        Assert.Equal(Enumerable.Range(1, 50), channel.Where(m => m.Sender == "kitchen").Select(m => m.As<int>()));
        Assert.Equal(-1, Assert.Single(channel, m => m.Sender == "garden").As<int>());

        // Nothing was sent back: the near bus sees kitchen's 50 originals and never garden (no inbound route).
        await kitchen.TriggerAsync("#temp.kitchen", Payload.Json(99), cancellationToken: Ct);
        var home = await ReadAsync(backHome, 51);
        Assert.Equal([.. Enumerable.Range(1, 50), 99], home.Select(m => m.As<int>()));
        Assert.All(home, m => Assert.Equal("kitchen", m.Sender));
        Assert.Empty(Drain(backHome));
        await Wait.UntilAsync(() => bridge.Outbound.Forwarded == 101, "the bridge counted 101 forwarded messages");
        Assert.Equal(0, bridge.Inbound.Forwarded);
        Assert.Equal(0, bridge.Dropped);
        var mirror = Assert.Single(await farApp.GetSendersAsync(Ct), s => s.Name == "kitchen");
        Assert.Equal(["tick", "#temp.kitchen"], mirror.Events);
        await kitchen.DisposeAsync();
    }

    [Fact]
    public async Task One_way_inbound_forwards_from_the_other_bus_only()
    {
        var near = await NearAsync();
        var far = await FarAsync();
        var nearApp = await NearAsync();
        var farApp = await FarAsync();
        var bridge = await BridgeAsync(near, far, new BridgeOptions { Inbound = Route(new BridgeFilter("pump", null)) });
        await using var pumpOnNear = await nearApp.ListenAsync("pump", null, cancellationToken: Ct);
        await using var pump = await farApp.AddSenderAsync("pump", ["flow", "#alarm"], cancellationToken: Ct);
        await WaitForSenderAsync(nearApp, "pump");
        for (var i = 1; i <= 20; i++)
        {
            await pump.TriggerAsync(i % 5 == 0 ? "#alarm" : "flow", Payload.Json(i), cancellationToken: Ct);
        }

        var got = await ReadAsync(pumpOnNear, 20);
        Assert.Equal(Enumerable.Range(1, 20), got.Select(m => m.As<int>()));
        Assert.Equal(20, got.Count(m => m.Sender == "pump"));
        Assert.Equal(0, bridge.Outbound.Forwarded);
        Assert.DoesNotContain(bridge.Mirrors, m => m.Direction == BridgeDirection.Outbound);
        Assert.Equal("pump", Assert.Single(bridge.Mirrors).Name);
    }

    [Fact]
    public async Task Both_ways_each_message_crosses_once_and_the_echoes_are_stopped_and_counted()
    {
        const int count = 30;
        var near = await NearAsync();
        var far = await FarAsync();
        var nearApp = await NearAsync();
        var farApp = await FarAsync();
        var both = Route("#level");
        var bridge = await BridgeAsync(near, far, new BridgeOptions { Outbound = both, Inbound = both });
        await using var onNear = await nearApp.ListenAsync(null, "#level", cancellationToken: Ct);
        await using var onFar = await farApp.ListenAsync(null, "#level", cancellationToken: Ct);
        await using var tank = await nearApp.AddSenderAsync("tank", ["#level"], cancellationToken: Ct);
        await using var well = await farApp.AddSenderAsync("well", ["#level"], cancellationToken: Ct);
        await WaitForSenderAsync(nearApp, "well");
        await WaitForSenderAsync(farApp, "tank");
        for (var i = 1; i <= count; i++)
        {
            await tank.TriggerAsync("#level", Payload.Json(i), cancellationToken: Ct);
            await well.TriggerAsync("#level", Payload.Json(-i), cancellationToken: Ct);
        }

        var nearGot = await ReadAsync(onNear, 2 * count);
        var farGot = await ReadAsync(onFar, 2 * count);
        foreach (var got in new[] { nearGot, farGot })
        {
            Assert.Equal(Enumerable.Range(1, count), got.Where(m => m.Sender == "tank").Select(m => m.As<int>()));
            Assert.Equal(Enumerable.Range(1, count).Select(i => -i), got.Where(m => m.Sender == "well").Select(m => m.As<int>()));
        }

        // Every forwarded message came back once to the other direction's listener, which skipped it.
        await Wait.UntilAsync(() => bridge.Outbound.Skipped == count && bridge.Inbound.Skipped == count, "both directions skipped their echoes");
        await tank.TriggerAsync("#level", Payload.Json(1000), cancellationToken: Ct);
        Assert.Equal(1000, (await ReadAsync(onFar, 1))[0].As<int>());
        Assert.Equal(1000, (await ReadAsync(onNear, 1))[0].As<int>());
        await Wait.UntilAsync(() => bridge.Inbound.Skipped == count + 1, "the last echo was skipped");
        Assert.Empty(Drain(onNear));
        Assert.Empty(Drain(onFar));
        Assert.Equal(count + 1, bridge.Outbound.Forwarded);
        Assert.Equal(count, bridge.Inbound.Forwarded);
        Assert.Equal(0, bridge.Outbound.Clashes + bridge.Inbound.Clashes);
        Assert.Equal(["tank", "well"], bridge.Mirrors.Select(m => m.Name));
    }

    [Fact]
    public async Task A_sender_that_joins_later_is_mirrored_its_last_will_crosses_and_its_mirror_leaves_with_it()
    {
        var near = await NearAsync();
        var far = await FarAsync();
        var nearApp = await NearAsync();
        var farApp = await FarAsync();
        await using var presence = await farApp.ListenAsync(null, "#connect", cancellationToken: Ct);
        await using var left = await farApp.ListenAsync(null, "#disconnect", cancellationToken: Ct);
        await using var status = await farApp.ListenAsync("boiler", null, cancellationToken: Ct);
        var bridge = await BridgeAsync(near, far, new BridgeOptions { Outbound = Route(new BridgeFilter("boiler", null)) });
        var boiler = await nearApp.AddSenderAsync("boiler", ["#status"], options: new SenderOptions { WillEvent = "#status", WillData = Payload.Utf8("\"gone\"") }, cancellationToken: Ct);
        var joined = await presence.NextAsync();
        while (joined.Sender != "boiler")
        {
            joined = await presence.NextAsync();
        }

        Assert.Equal(["#status"], JsonDocument.Parse(joined.Data.Bytes).RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetString()));
        await boiler.TriggerAsync("#status", Payload.Utf8("\"hot\""), cancellationToken: Ct);
        Assert.Equal("hot", (await ReadAsync(status, 1))[0].As<string>());
        await AbortAsync(nearApp); // dies: its will fires, then #disconnect
        Assert.Equal("gone", (await ReadAsync(status, 1))[0].As<string>());
        var gone = await left.NextAsync();
        while (gone.Sender != "boiler")
        {
            gone = await left.NextAsync();
        }

        await WaitForSenderAsync(farApp, "boiler", online: false);
        Assert.Empty(bridge.Mirrors);
        Assert.Equal(2, bridge.Outbound.Forwarded);
    }

    [Fact]
    public async Task Requests_to_chosen_senders_are_answered_across_and_others_are_not()
    {
        var near = await NearAsync();
        var far = await FarAsync();
        var nearApp = await NearAsync();
        var farApp = await FarAsync();
        MessageHeaders? seen = null;
        await using var clock = await nearApp.AddSenderAsync("clock", ["tick"], new Dictionary<string, RequestHandler>
        {
            ["time"] = (r, _) =>
            {
                seen = r.Headers;
                return ValueTask.FromResult(Payload.Json($"12:00 {r.Data}"));
            },
            ["broken"] = (_, _) => throw new InvalidOperationException("the clock is broken"),
        }, cancellationToken: Ct);
        await using var quiet = await nearApp.AddSenderAsync("quiet", ["tick"], new Dictionary<string, RequestHandler>
        {
            ["time"] = (_, _) => ValueTask.FromResult(Payload.Json("never asked")),
        }, cancellationToken: Ct);
        var bridge = await BridgeAsync(near, far, new BridgeOptions
        {
            Outbound = new BridgeRoute { Events = [new("clock", null), new("quiet", null)], RequestSenders = ["clock"] },
        });
        Assert.Equal("12:00 \"utc\"", await farApp.RequestAsync<string>("clock", "time", Payload.Json("utc"), cancellationToken: Ct));
        Assert.Equal("clock", seen![BridgeHeaders.Origin]);
        Assert.Equal(bridge.Name, seen[BridgeHeaders.Via]);
        var failed = await Assert.ThrowsAsync<RequestFailedException>(async () => await farApp.RequestAsync("clock", "broken", cancellationToken: Ct));
        Assert.Contains("the clock is broken", failed.Message, StringComparison.Ordinal);
        var unchosen = await Assert.ThrowsAsync<RequestFailedException>(async () => await farApp.RequestAsync("quiet", "time", cancellationToken: Ct));
        Assert.Equal(ErrorCodes.NoHandler, unchosen.Code);
        Assert.Equal(2, bridge.Outbound.RequestsForwarded);
        Assert.Equal(1, bridge.Outbound.RequestsFailed);
        Assert.Equal(["broken", "time"], bridge.Mirrors.Single(m => m.Origin == "clock").Requests.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_gather_on_a_chosen_topic_reaches_every_origin_producer_through_one_bridge_producer()
    {
        var near = await NearAsync();
        var far = await FarAsync();
        var nearApp = await NearAsync();
        var farApp = await FarAsync();
        await using var p1 = await nearApp.AddProducerAsync("prices", (r, _) => ValueTask.FromResult(Payload.Utf8($"{{\"p1\": {r.Data}}}")), new ProducerOptions { Name = "p1" }, Ct);
        await using var p2 = await nearApp.AddProducerAsync("prices", (_, _) => ValueTask.FromResult(Payload.Utf8("not json")), new ProducerOptions { Name = "p2" }, Ct);
        await using var local = await farApp.AddProducerAsync("prices", (_, _) => ValueTask.FromResult(Payload.Json("far")), new ProducerOptions { Name = "farp" }, Ct);
        var both = new BridgeRoute { GatherTopics = ["prices"] };
        var bridge = await BridgeAsync(near, far, new BridgeOptions { Name = "gx", Outbound = both, Inbound = both });

        var fromFar = await GatherAllAsync(farApp, "prices");
        Assert.Equal(["farp", "gx-out"], fromFar.Summary.Answered.Order(StringComparer.Ordinal));
        Assert.Equal(["farp:\"far\"", "p1:{\"p1\": \"apple\"}", "p2:not json"], fromFar.Flat);

        // The other way (both ways bridged: each bridge producer answers the other's forwarded gather with nothing).
        var fromNear = await GatherAllAsync(nearApp, "prices");
        Assert.Equal(["farp:\"far\"", "p1:{\"p1\": \"apple\"}", "p2:not json"], fromNear.Flat);
        Assert.Equal(1, bridge.Outbound.GathersForwarded);
        Assert.Equal(1, bridge.Inbound.GathersForwarded);
        Assert.Equal(2, bridge.Outbound.Skipped + bridge.Inbound.Skipped);
    }

    private static async Task<(GatherSummary Summary, List<string> Flat)> GatherAllAsync(IBus bus, string topic)
    {
        var call = bus.GatherAsync(topic, Payload.Json("apple"), TimeSpan.FromSeconds(5), cancellationToken: Ct);
        var flat = new List<string>();
        await foreach (var result in call.WithCancellation(Ct))
        {
            flat.AddRange(BusBridge.Unpack(result).Select(r => $"{r.Producer}:{r.Data}"));
        }

        var summary = await call.Summary.WithinAsync("the gather's summary");
        Assert.Empty(summary.Missing);
        return (summary, [.. flat.Order(StringComparer.Ordinal)]);
    }

    [Fact]
    public async Task A_name_taken_on_the_far_bus_is_never_taken_over_the_clash_is_counted_and_a_prefix_avoids_it()
    {
        var near = await NearAsync();
        var far = await FarAsync();
        var nearApp = await NearAsync();
        var farApp = await FarAsync();
        await using var farKitchen = await farApp.AddSenderAsync("kitchen", ["tick"], new Dictionary<string, RequestHandler>
        {
            ["who"] = (_, _) => ValueTask.FromResult(Payload.Json("the far kitchen")),
        }, cancellationToken: Ct);
        await using var kitchen = await nearApp.AddSenderAsync("kitchen", ["tick"], cancellationToken: Ct);
        await using var ticks = await farApp.ListenAsync("kitchen", "tick", cancellationToken: Ct);
        var plain = await near.BridgeAsync(far, new BridgeOptions { Outbound = Route(new BridgeFilter("kitchen", "tick")) }, Ct);
        Assert.Equal(1, plain.Outbound.Clashes);
        var refused = Assert.Single(plain.Mirrors);
        Assert.False(refused.IsActive);
        Assert.Contains("already", refused.Error, StringComparison.Ordinal);
        await kitchen.TriggerAsync("tick", Payload.Json(1), cancellationToken: Ct);
        await Wait.UntilAsync(() => plain.Dropped == 1, "the clashing sender's message was counted as dropped");
        Assert.Equal("the far kitchen", await farApp.RequestAsync<string>("kitchen", "who", cancellationToken: Ct));
        await plain.DisposeAsync();

        var prefixed = await BridgeAsync(near, far, new BridgeOptions { Outbound = Route(new BridgeFilter("kitchen", "tick")) with { NamePrefix = "site-a:" } });
        await using var prefixedTicks = await farApp.ListenAsync("site-a:kitchen", "tick", cancellationToken: Ct);
        await kitchen.TriggerAsync("tick", Payload.Json(2), cancellationToken: Ct);
        var got = (await ReadAsync(prefixedTicks, 1))[0];
        Assert.Equal(2, got.As<int>());
        Assert.Equal("kitchen", got.Headers[BridgeHeaders.Origin]);
        Assert.Equal(0, prefixed.Outbound.Clashes);
        await farKitchen.TriggerAsync("tick", Payload.Json(3), cancellationToken: Ct);
        Assert.Equal(3, (await ReadAsync(ticks, 1))[0].As<int>()); // the far kitchen's own listener only ever saw its own
        Assert.Empty(Drain(ticks));
    }

    [Fact]
    public async Task Disposing_the_bridge_removes_its_mirrors_listeners_and_producers_from_both_buses()
    {
        var near = await NearAsync();
        var far = await FarAsync();
        var nearApp = await NearAsync();
        var farApp = await FarAsync();
        await using var a = await nearApp.AddSenderAsync("a", ["#x"], cancellationToken: Ct);
        await using var b = await farApp.AddSenderAsync("b", ["#x"], cancellationToken: Ct);
        var route = new BridgeRoute { Events = ["#x"], GatherTopics = ["t"] };
        var bridge = await near.BridgeAsync(far, new BridgeOptions { Name = "gone", Outbound = route, Inbound = route }, Ct);
        Assert.Contains(await farApp.GetSendersAsync(Ct), s => s.Name == "a");
        Assert.Contains(await nearApp.GetSendersAsync(Ct), s => s.Name == "b");
        await bridge.DisposeAsync();
        await WaitForSenderAsync(farApp, "a", online: false);
        await WaitForSenderAsync(nearApp, "b", online: false);
        var call = farApp.GatherAsync("t", default, TimeSpan.FromMilliseconds(200), cancellationToken: Ct);
        Assert.Empty((await call.Summary.WithinAsync("an empty gather")).Answered);
        await using var onFar = await farApp.ListenAsync(null, "#x", cancellationToken: Ct);
        await a.TriggerAsync("#x", Payload.Json(1), cancellationToken: Ct);
        await b.TriggerAsync("#x", Payload.Json(2), cancellationToken: Ct);
        Assert.Equal(2, (await ReadAsync(onFar, 1))[0].As<int>());
        Assert.Empty(Drain(onFar));
        Assert.Equal(0, bridge.Forwarded);
    }

    /// <summary>Ends a near participant as if its process died (last wills fire).</summary>
    protected abstract Task AbortAsync(IBus participant);
}
