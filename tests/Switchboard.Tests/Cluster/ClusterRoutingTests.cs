using System.Text.Json;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Cluster;

/// <summary>Events across nodes: a trigger on node A reaches listeners on node B in order, once, only where someone
/// listens, and remote senders look like local ones (presence, the sender list) without being sent back.</summary>
public sealed class ClusterRoutingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_trigger_on_one_node_reaches_a_listener_on_another_in_order_and_once()
    {
        await using var cluster = await ClusterFixture.StartAsync(2);
        var a = await cluster.ConnectAsync(0, "a");
        var b = await cluster.ConnectAsync(1, "b");
        await using var sender = await a.AddSenderAsync("s1", ["tick", "#end"], cancellationToken: Ct);
        await using var ticks = await b.ListenAsync("s1", "tick", new ListenerOptions { Capacity = 10_000 }, Ct);
        await using var end = await b.ListenAsync(null, "#end", cancellationToken: Ct);
        const int count = 2000;
        for (var i = 0; i < count; i++)
        {
            await sender.TriggerAsync("tick", Payload.Json(i), cancellationToken: Ct);
        }

        await sender.TriggerAsync("#end", cancellationToken: Ct);
        for (var i = 0; i < count; i++)
        {
            var message = await ticks.NextAsync();
            Assert.Equal("s1", message.Sender);
            Assert.Equal(i, JsonSerializer.Deserialize<int>(message.Data.Bytes.Span));
        }

        await end.NextAsync();
        Assert.False(ticks.TryRead(out var extra), $"a message arrived twice: {extra.Data}");
        Assert.True(cluster.Node(0).Counters.BatchesOut < count, $"{count} messages took {cluster.Node(0).Counters.BatchesOut} publishes: they were not batched");
    }

    [Fact]
    public async Task A_node_that_joins_later_gets_the_values_retained_before_it_came_and_the_newest_wins()
    {
        await using var cluster = await ClusterFixture.StartAsync(1);
        var a = await cluster.ConnectAsync(0, "a");
        await using var thermo = await a.AddSenderAsync("thermo", ["temp", "#weather.rain"], cancellationToken: Ct);
        await thermo.TriggerAsync("temp", Payload.Json(20), retain: true, cancellationToken: Ct);
        await thermo.TriggerAsync("temp", Payload.Json(21), retain: true, cancellationToken: Ct);
        await thermo.TriggerAsync("#weather.rain", Payload.Json(true), retain: true, cancellationToken: Ct);

        var late = await cluster.AddNodeAsync();
        await cluster.WaitJoinedAsync();
        await Wait.UntilAsync(() => late.Host.Broker.Router.RetainedCount == 2, "the joining node holds both retained values");

        var b = await cluster.ConnectAsync(1, "b");
        await using var temp = await b.ListenAsync("thermo", "temp", cancellationToken: Ct);
        Assert.Equal(21, (await temp.NextAsync()).Data.As<int>());
        await using var rain = await b.ListenAsync(null, "#weather.rain", cancellationToken: Ct);
        Assert.True((await rain.NextAsync()).Data.As<bool>());

        // Values set afterwards still travel as they are set.
        await thermo.TriggerAsync("temp", Payload.Json(22), retain: true, cancellationToken: Ct);
        Assert.Equal(22, (await temp.NextAsync()).Data.As<int>());
        await using var again = await b.ListenAsync("thermo", "temp", cancellationToken: Ct);
        Assert.Equal(22, (await again.NextAsync()).Data.As<int>()); // the node had it before it delivered it live
    }

    [Fact]
    public async Task Two_listeners_on_a_node_get_their_copy_while_the_message_crosses_redis_once()
    {
        await using var cluster = await ClusterFixture.StartAsync(2);
        var a = await cluster.ConnectAsync(0, "a");
        var b = await cluster.ConnectAsync(1, "b");
        var c = await cluster.ConnectAsync(1, "c");
        await using var sender = await a.AddSenderAsync("s1", ["#rooms.>"], cancellationToken: Ct);
        await using var wide = await b.ListenAsync(null, "#rooms.>", cancellationToken: Ct);
        await using var narrow = await c.ListenAsync("s1", "#rooms.lobby", cancellationToken: Ct);
        await sender.TriggerAsync("#rooms.lobby", Payload.Utf8("hi"), cancellationToken: Ct);
        Assert.Equal("hi", (await wide.NextAsync()).Data.ToString());
        Assert.Equal("hi", (await narrow.NextAsync()).Data.ToString());
        Assert.Equal(1, cluster.Node(0).Counters.MessagesOut);
        Assert.Equal(1, cluster.Node(1).Counters.MessagesIn);
    }

    [Fact]
    public async Task A_message_goes_only_to_nodes_that_listen_to_it()
    {
        await using var cluster = await ClusterFixture.StartAsync(3);
        var a = await cluster.ConnectAsync(0, "a");
        var b = await cluster.ConnectAsync(1, "b");
        await using var sender = await a.AddSenderAsync("s1", ["#wanted", "#unwanted"], cancellationToken: Ct);
        await using var listener = await b.ListenAsync(null, "#wanted", cancellationToken: Ct);
        await sender.TriggerAsync("#unwanted", cancellationToken: Ct);
        await sender.TriggerAsync("#wanted", cancellationToken: Ct);
        await listener.NextAsync();
        Assert.Equal(1, cluster.Node(0).Counters.MessagesOut); // #unwanted went nowhere, #wanted only to node 1
        Assert.Equal(0, cluster.Node(2).Counters.MessagesIn);
        await listener.DisposeAsync();
        await Wait.UntilAsync(() => cluster.Node(0).Links.All(l => l.Interest.Count == 0), "node 0 learns node 1 listens to nothing now");
        await sender.TriggerAsync("#wanted", cancellationToken: Ct);
        await a.FlushAsync(Ct);
        Assert.Equal(1, cluster.Node(0).Counters.MessagesOut);
    }

    [Fact]
    public async Task Remote_senders_are_seen_by_presence_and_the_sender_list_and_are_not_sent_back()
    {
        await using var cluster = await ClusterFixture.StartAsync(2);
        var a = await cluster.ConnectAsync(0, "a");
        var b = await cluster.ConnectAsync(1, "b");
        await using var connects = await b.ListenAsync(null, "#connect", cancellationToken: Ct);
        await using var disconnects = await b.ListenAsync(null, "#disconnect", cancellationToken: Ct);
        await using var local = await a.ListenAsync("s1", "tick", cancellationToken: Ct);
        await using var remote = await b.ListenAsync("s1", "tick", cancellationToken: Ct);
        var sender = await a.AddSenderAsync("s1", ["tick"], new() { ["get"] = (_, _) => ValueTask.FromResult(Payload.Utf8("x")) }, cancellationToken: Ct);
        var connected = await connects.NextAsync();
        Assert.Equal("s1", connected.Sender);
        Assert.Contains("\"tick\"", connected.Data.ToString(), StringComparison.Ordinal);
        var online = await b.GetSendersAsync(Ct);
        var info = Assert.Single(online, s => s.Name == "s1");
        Assert.Equal(["tick"], info.Events);
        Assert.Equal(["get"], info.Requests);
        await sender.TriggerAsync("tick", cancellationToken: Ct);
        await local.NextAsync();
        await remote.NextAsync();
        await sender.DisposeAsync();
        var left = await disconnects.NextAsync();
        Assert.Equal("s1", left.Sender);
        Assert.Contains("\"reason\":\"closed\"", left.Data.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(await b.GetSendersAsync(Ct), s => s.Name == "s1");
        Assert.Equal(0, cluster.Node(1).Counters.MessagesOut); // node 1 sent nothing back
        Assert.False(local.TryRead(out _));
        Assert.False(connects.TryRead(out var twice), $"#connect arrived twice: {twice.Data}");
    }
}
