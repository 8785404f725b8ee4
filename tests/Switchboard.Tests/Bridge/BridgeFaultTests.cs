using Switchboard.Tests.Support;

namespace Switchboard.Tests.Bridge;

/// <summary>Bridges under stress: a slow far side (drops counted), brokers that die and come back on the same port,
/// a chain of three buses, and options a bridge refuses.</summary>
public sealed class BridgeFaultTests : BridgeTestBase
{
    [Fact]
    public async Task A_bridge_listener_over_its_bound_drops_by_its_policy_and_the_bridge_counts_it()
    {
        const int count = 50;
        var broker = await StartBrokerAsync();
        var local = NewLocal();
        var remote = await ConnectAsync(broker);
        var app = await ConnectAsync(broker);
        var bridge = await BridgeAsync(local, remote, new BridgeOptions
        {
            Inbound = new BridgeRoute { Events = ["#burst"], Listener = new ListenerOptions { Capacity = 2, Overflow = OverflowPolicy.DropNewest } },
        });
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = new List<int>();
        await using var slow = await local.Connect().ListenAsync(null, "#burst", async (m, _) =>
        {
            await gate.Task;
            lock (received)
            {
                received.Add(m.As<int>());
            }
        }, new ListenerOptions { Capacity = 1, Overflow = OverflowPolicy.Wait }, Ct);
        var burst = await app.AddSenderAsync("burst", ["#burst"], cancellationToken: Ct);
        await WaitForSenderAsync(local, "burst");
        for (var i = 1; i <= count; i++)
        {
            await burst.TriggerAsync("#burst", Payload.Json(i), cancellationToken: Ct);
        }

        await Wait.UntilAsync(() => bridge.Inbound.Dropped > 0 && bridge.Inbound.Forwarded + bridge.Inbound.Dropped >= 4, "the bridge's listener dropping");
        gate.SetResult();
        await Wait.UntilAsync(() => bridge.Inbound.Forwarded + bridge.Inbound.Dropped == count, "every message forwarded or counted as dropped");
        await Wait.UntilAsync(() => { lock (received) { return received.Count == bridge.Inbound.Forwarded; } }, "the slow listener handling what was forwarded");
        // At least the bridge listener's capacity (2) crossed, however the burst met the slow callback.
        Assert.InRange(bridge.Inbound.Dropped, 1, count - 2);
        Assert.Equal(bridge.Inbound.Dropped, bridge.Dropped);
        lock (received)
        {
            Assert.Equal(received.Order(), received); // what crossed kept its order
        }
    }

    [Fact]
    public async Task A_local_bridge_survives_its_broker_restarting_on_the_same_port_and_its_mirrors_match_again()
    {
        var port = FreePort();
        var first = await StartBrokerAsync(port);
        var local = NewLocal();
        var remote = await ConnectAsync(first);
        var stays = await ConnectAsync(first);
        var leaves = await BusClient.ConnectAsync(first.TcpAddress!, new BusClientOptions { ClientName = "leaves" }, Ct);
        var watcher = await ConnectAsync(first);
        var localApp = Keep(local.Connect());
        var tank = await localApp.AddSenderAsync("tank", ["#level"], cancellationToken: Ct);
        var pump = await stays.AddSenderAsync("pump", ["#flow"], cancellationToken: Ct);
        await leaves.AddSenderAsync("ghost", ["#flow"], cancellationToken: Ct);
        var bridge = await BridgeAsync(local, remote, new BridgeOptions { Outbound = new() { Events = ["#level"] }, Inbound = new() { Events = ["#flow"] } });
        await using var levels = await watcher.ListenAsync(null, "#level", cancellationToken: Ct);
        await using var flows = await localApp.ListenAsync(null, "#flow", cancellationToken: Ct);
        Assert.Equal(["tank", "ghost", "pump"], bridge.Mirrors.Select(m => m.Name));

        var back = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var watcherBack = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        remote.Disconnected += (_, _) => lost.TrySetResult();
        remote.Reconnected += (_, _) => back.TrySetResult();
        watcher.Reconnected += (_, _) => watcherBack.TrySetResult();
        await first.KillAsync();
        await lost.Task.WithinAsync("the bridge's client noticing the broker died");
        await leaves.DisposeAsync(); // its sender never comes back: its mirror must go
        await StartBrokerAsync(port);
        await back.Task.WithinAsync("the bridge's client reconnecting");
        await watcherBack.Task.WithinAsync("the watcher reconnecting");

        await Wait.UntilAsync(() => bridge.Mirrors.Select(m => m.Name).SequenceEqual(["tank", "pump"]), "the mirrors matching the senders online again");
        await WaitForSenderAsync(local, "ghost", online: false);
        await WaitForSenderAsync(watcher, "tank"); // the bridge's client registered the mirror again by itself
        await pump.TriggerAsync("#flow", Payload.Json(7), cancellationToken: Ct);
        var flow = (await ReadAsync(flows, 1))[0];
        Assert.Equal(("pump", 7), (flow.Sender, flow.As<int>()));
        await tank.TriggerAsync("#level", Payload.Json(8), cancellationToken: Ct);
        var level = (await ReadAsync(levels, 1))[0];
        Assert.Equal(("tank", 8), (level.Sender, level.As<int>()));
        Assert.Equal(0, bridge.Outbound.Clashes + bridge.Inbound.Clashes);
    }

    [Fact]
    public async Task A_client_to_client_bridge_survives_one_broker_restarting_and_forwards_both_ways_again()
    {
        var port = FreePort();
        var first = await StartBrokerAsync(port);
        var other = await StartBrokerAsync();
        var x = await ConnectAsync(first);
        var y = await ConnectAsync(other);
        var xApp = await ConnectAsync(first);
        var yApp = await ConnectAsync(other);
        var both = new BridgeRoute { Events = ["#n"] };
        var bridge = await BridgeAsync(x, y, new BridgeOptions { Outbound = both, Inbound = both });
        var sx = await xApp.AddSenderAsync("sx", ["#n"], cancellationToken: Ct);
        var sy = await yApp.AddSenderAsync("sy", ["#n"], cancellationToken: Ct);
        await WaitForSenderAsync(xApp, "sy");
        await WaitForSenderAsync(yApp, "sx");
        await using var onX = await xApp.ListenAsync(null, "#n", cancellationToken: Ct);
        await using var onY = await yApp.ListenAsync(null, "#n", cancellationToken: Ct);

        var xBack = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var appBack = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        x.Reconnected += (_, _) => xBack.TrySetResult();
        xApp.Reconnected += (_, _) => appBack.TrySetResult();
        await first.KillAsync();
        await StartBrokerAsync(port);
        await Task.WhenAll(xBack.Task, appBack.Task).WithinAsync("both clients of the restarted broker reconnecting");
        await WaitForSenderAsync(xApp, "sy"); // the mirror, registered again on the new broker
        await WaitForSenderAsync(yApp, "sx");
        await Wait.UntilAsync(() => bridge.Mirrors.Select(m => m.Name).SequenceEqual(["sx", "sy"]), "both mirrors kept");

        await sx.TriggerAsync("#n", Payload.Json(1), cancellationToken: Ct);
        await sy.TriggerAsync("#n", Payload.Json(2), cancellationToken: Ct);
        var atY = await ReadAsync(onY, 2);
        var atX = await ReadAsync(onX, 2);
        Assert.Equal(["sx:1", "sy:2"], atY.Select(m => $"{m.Sender}:{m.As<int>()}").Order());
        Assert.Equal(["sx:1", "sy:2"], atX.Select(m => $"{m.Sender}:{m.As<int>()}").Order());
    }

    [Fact]
    public async Task A_chain_of_three_buses_bridged_both_ways_delivers_everything_once_in_order_without_loops()
    {
        const int count = 20;
        var brokerB = await StartBrokerAsync();
        var brokerC = await StartBrokerAsync();
        var a = NewLocal();
        var route = new BridgeRoute { Events = ["#chain.>"] };
        var ab = await BridgeAsync(a, await ConnectAsync(brokerB), new BridgeOptions { Name = "ab", Outbound = route, Inbound = route });
        var bc = await BridgeAsync(await ConnectAsync(brokerB), await ConnectAsync(brokerC), new BridgeOptions { Name = "bc", Outbound = route, Inbound = route });
        IBus[] apps = [Keep(a.Connect()), await ConnectAsync(brokerB), await ConnectAsync(brokerC)];
        string[] names = ["a", "b", "c"];
        var queues = new List<IListenerQueue>();
        var senders = new List<ISender>();
        for (var i = 0; i < 3; i++)
        {
            queues.Add(Keep(await apps[i].ListenAsync(null, "#chain.>", cancellationToken: Ct)));
            senders.Add(await apps[i].AddSenderAsync(names[i], [$"#chain.{names[i]}"], cancellationToken: Ct));
        }

        foreach (var app in apps)
        {
            foreach (var name in names)
            {
                await WaitForSenderAsync(app, name);
            }
        }

        for (var n = 1; n <= count; n++)
        {
            for (var i = 0; i < 3; i++)
            {
                await senders[i].TriggerAsync($"#chain.{names[i]}", Payload.Json(n), cancellationToken: Ct);
            }
        }

        foreach (var queue in queues)
        {
            var got = await ReadAsync(queue, 3 * count);
            foreach (var name in names)
            {
                Assert.Equal(Enumerable.Range(1, count), got.Where(m => m.Sender == name).Select(m => m.As<int>()));
            }
        }

        await Wait.UntilAsync(() => ab.Forwarded == 3 * count && bc.Forwarded == 3 * count, "each bridge forwarding a's, b's and c's messages once (a and b or c to the far side, the rest back)");
        for (var i = 0; i < 3; i++)
        {
            await senders[i].TriggerAsync($"#chain.{names[i]}", Payload.Json(0), cancellationToken: Ct);
        }

        foreach (var queue in queues)
        {
            Assert.All(await ReadAsync(queue, 3), m => Assert.Equal(0, m.As<int>()));
        }

        await Wait.UntilAsync(() => ab.Forwarded == 3 * (count + 1) && bc.Forwarded == 3 * (count + 1), "the markers crossing");
        foreach (var queue in queues)
        {
            Assert.Empty(Drain(queue));
        }

        Assert.Equal(0, ab.Outbound.Clashes + ab.Inbound.Clashes + bc.Outbound.Clashes + bc.Inbound.Clashes);
        var cMessage = (await ReadAfterAsync(queues[0], senders[2], "#chain.c")).Headers;
        Assert.Equal("bc,ab", cMessage[BridgeHeaders.Via]);
        Assert.Equal("2", cMessage[BridgeHeaders.Hops]);
        Assert.Equal("c", cMessage[BridgeHeaders.Origin]);
    }

    private static async Task<BusMessage> ReadAfterAsync(IListenerQueue queue, ISender sender, string @event)
    {
        await sender.TriggerAsync(@event, Payload.Json(-1), cancellationToken: Ct);
        return (await ReadAsync(queue, 1))[0];
    }

    [Fact]
    public async Task A_bridge_refuses_options_that_would_break_order_or_names()
    {
        var a = NewLocal();
        var b = NewLocal();
        var parallel = new BridgeOptions { Outbound = new() { Events = ["#x"], Listener = new ListenerOptions { MaxConcurrency = 4 } } };
        Assert.Equal(ErrorCodes.InvalidArgument, (await Assert.ThrowsAsync<SwitchboardException>(() => a.BridgeAsync(b, parallel, Ct))).Code);
        await Assert.ThrowsAsync<InvalidNameException>(() => a.BridgeAsync(b, new BridgeOptions { Outbound = new() { Events = ["#x"], NamePrefix = "site.a" } }, Ct));
        await Assert.ThrowsAsync<SwitchboardException>(() => a.BridgeAsync(a, new BridgeOptions { Outbound = new() }, Ct));
        await Assert.ThrowsAsync<SwitchboardException>(() => a.BridgeAsync(b, new BridgeOptions(), Ct));
        var targeted = new BridgeOptions { Outbound = new() { Events = ["tick"] } }; // a targeted event needs its sender, as for any listener
        Assert.Equal(ErrorCodes.TargetedNeedsSender, (await Assert.ThrowsAsync<SwitchboardException>(() => a.BridgeAsync(b, targeted, Ct))).Code);
        Assert.Empty(await b.GetSendersAsync(Ct));
    }
}
