using Switchboard.Tests.Support;

namespace Switchboard.Tests.Bridge;

/// <summary>
/// Two processes, two brokers, three bridges: a <see cref="LocalBus"/> here bridged to broker X, the bridge example
/// (a real child process) with its own <see cref="LocalBus"/> bridged to broker Y, and X and Y joined by a
/// client-to-client bridge. Events cross all three hops once, in order, each way, and nothing loops.
/// </summary>
public sealed class BridgeProcessTests : BridgeTestBase
{
    [Fact]
    public async Task An_event_crosses_two_processes_and_two_brokers_once_in_order_each_way_and_nothing_loops()
    {
        const int count = 20;
        var x = await StartBrokerAsync();
        var y = await StartBrokerAsync();
        var route = new BridgeRoute { Events = ["#chain.>"] };
        var local = NewLocal();
        var near = await BridgeAsync(local, await ConnectAsync(x), new BridgeOptions { Name = "near-bridge", Outbound = route, Inbound = route });
        var leaf = await BridgeAsync(await ConnectAsync(x), await ConnectAsync(y), new BridgeOptions { Name = "leaf", Outbound = route, Inbound = route });
        var app = Keep(local.Connect());
        await using var seen = await app.ListenAsync(null, "#chain.>", cancellationToken: Ct);
        var sender = await app.AddSenderAsync("site-a", ["#chain.site-a"], cancellationToken: Ct);
        var child = Keep(ExampleProcess.Start(y.TcpAddress!, "site-b"));
        await child.ReadUntilAsync("ready");
        await WaitForSenderAsync(app, "site-b"); // the child's sender, mirrored over both hops

        for (var i = 1; i <= count; i++)
        {
            await sender.TriggerAsync("#chain.site-a", Payload.Json(i), cancellationToken: Ct);
        }

        var there = new List<string>();
        for (var i = 1; i <= count; i++)
        {
            there.Add(await child.ReadUntilAsync("recv site-a "));
        }

        Assert.Equal(Enumerable.Range(1, count).Select(i => $"recv site-a #chain.site-a {i} via=near-bridge,leaf,site-b-bridge"), there);

        await child.SendAsync($"send {count}");
        var here = await ReadAsync(seen, 2 * count);
        Assert.Equal(Enumerable.Range(1, count), here.Where(m => m.Sender == "site-a").Select(m => m.As<int>()));
        var fromChild = here.Where(m => m.Sender == "site-b").ToList();
        Assert.Equal(Enumerable.Range(1, count), fromChild.Select(m => m.As<int>()));
        Assert.All(fromChild, m => Assert.Equal("site-b-bridge,leaf,near-bridge", m.Headers[BridgeHeaders.Via]));

        // Settle both ways with a marker (order carries the rest), then count: nothing crossed twice or came back.
        await sender.TriggerAsync("#chain.site-a", Payload.Json(0), cancellationToken: Ct);
        await child.ReadUntilAsync("recv site-a #chain.site-a 0 ");
        await child.SendAsync("mark");
        Assert.Equal(0, (await ReadAsync(seen, 2)).Single(m => m.Sender == "site-b").As<int>());
        await Wait.UntilAsync(() => near.Forwarded == 2 * (count + 1) && leaf.Forwarded == 2 * (count + 1), "each bridge forwarding each message once");
        await child.SendAsync("stats");
        var stats = await child.ReadUntilAsync("stats ");
        Assert.StartsWith($"stats site-a={count + 1} site-b={count + 1} forwarded={2 * (count + 1)} dropped=0 ", stats, StringComparison.Ordinal);
        Assert.Empty(Drain(seen));
        Assert.Equal(0, near.Dropped + leaf.Dropped);
        Assert.Equal(0, await child.QuitAsync());
        await WaitForSenderAsync(app, "site-b", online: false); // the child's bridge removed its mirrors as it left
    }
}
