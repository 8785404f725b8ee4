using System.Diagnostics;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Cluster;

/// <summary>A node that stops renewing its lease: the others raise its senders' last wills and <c>#disconnect</c>
/// (reason node_lost) exactly once, within the lease period, and its names are free again. No ghosts.</summary>
public sealed class ClusterNodeDeathTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_dead_node_s_senders_leave_once_with_their_wills_and_their_names_are_free()
    {
        await using var cluster = await ClusterFixture.StartAsync(3);
        var doomed = await cluster.ConnectAsync(0, "doomed");
        var b = await cluster.ConnectAsync(1, "b");
        var c = await cluster.ConnectAsync(2, "c");
        await using var disconnects = await b.ListenAsync(null, "#disconnect", cancellationToken: Ct);
        await using var wills = await b.ListenAsync(null, "#gone", cancellationToken: Ct);
        await using var otherDisconnects = await c.ListenAsync(null, "#disconnect", cancellationToken: Ct);
        await doomed.AddSenderAsync("s1", ["#gone"], options: new SenderOptions { WillEvent = "#gone", WillData = Payload.Utf8("bye") }, cancellationToken: Ct);
        await doomed.AddSenderAsync("s2", ["tick"], cancellationToken: Ct);
        await Wait.UntilAsync(() => cluster.Node(1).Links.Sum(l => l.Mirrors.Count) == 2, "node 1 mirrors both senders");

        var clock = Stopwatch.StartNew();
        await cluster.KillNodeAsync(0);
        var will = await wills.NextAsync();
        Assert.Equal("s1", will.Sender);
        Assert.Equal("bye", will.Data.ToString());
        var gone = new[] { await disconnects.NextAsync(), await disconnects.NextAsync() };
        var elapsed = clock.Elapsed;
        Assert.Equal(["s1", "s2"], gone.Select(m => m.Sender).Order());
        Assert.All(gone, m => Assert.Contains("\"reason\":\"node_lost\"", m.Data.ToString(), StringComparison.Ordinal));
        var lease = ClusterFixture.TestOptions("", "").LeasePeriod;
        // The lease period, a quarter heartbeat to notice, and slack for a loaded machine.
        Assert.True(elapsed < lease + TimeSpan.FromSeconds(3), $"#disconnect took {elapsed.TotalMilliseconds} ms after the kill (lease {lease.TotalMilliseconds} ms)");
        Assert.Equal(2, new[] { await otherDisconnects.NextAsync(), await otherDisconnects.NextAsync() }.Length);
        Assert.Equal(1, cluster.Node(1).Counters.NodesLost);

        await using var reborn = await c.AddSenderAsync("s1", ["#gone"], cancellationToken: Ct); // the dead node's name is free
        await Wait.UntilAsync(() => cluster.Node(1).Links.Sum(l => l.Mirrors.Count) == 1, "node 1 mirrors the new s1");
        Assert.False(disconnects.TryRead(out var twice), $"a #disconnect came twice: {twice.Sender}");
        Assert.False(wills.TryRead(out _), "the will came twice");
        Assert.DoesNotContain(await b.GetSendersAsync(Ct), s => s.Name == "s2");
    }

    [Fact]
    public async Task A_node_that_leaves_cleanly_is_forgotten_at_once()
    {
        await using var cluster = await ClusterFixture.StartAsync(2);
        var extra = await cluster.AddNodeAsync();
        await cluster.WaitJoinedAsync();
        Assert.Equal(2, cluster.Node(1).Nodes.Count);
        await extra.Host.DisposeAsync();
        await extra.Node.DisposeAsync();
        extra.Dead = true;
        await Wait.UntilAsync(() => cluster.Node(1).Nodes.Count == 1, "node 1 forgets the node that left", TimeSpan.FromSeconds(1));
        Assert.Equal(0, cluster.Node(1).Counters.NodesLost);
    }
}

/// <summary>The same with a real process: <c>switchboard serve --cluster</c> killed with SIGKILL.</summary>
public sealed class ClusterProcessDeathTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_serve_process_killed_with_sigkill_has_its_senders_disconnected_once_on_the_other_nodes()
    {
        await using var cluster = await ClusterFixture.StartAsync(1);
        var options = ClusterFixture.TestOptions("", "");
        await using var serve = Bridge.ExampleProcess.StartCli(
            "serve", "--port", "0", "--jsonl-port", "off", "--http-port", "off",
            "--cluster", $"redis://{cluster.Redis.Address}", "--cluster-name", cluster.Name, "--node-id", "child",
            "--cluster-heartbeat-ms", ((int)options.HeartbeatInterval.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--cluster-lease-ms", ((int)options.LeasePeriod.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var address = (await serve.ReadUntilAsync("listening: sb://"))["listening: ".Length..];
        Assert.StartsWith("cluster: " + cluster.Name + " as node child~", await serve.ReadUntilAsync("cluster: "), StringComparison.Ordinal);

        var observer = await cluster.ConnectAsync(0, "observer");
        await using var disconnects = await observer.ListenAsync(null, "#disconnect", cancellationToken: Ct);
        await using var wills = await observer.ListenAsync(null, "#gone", cancellationToken: Ct);
        await using var child = await BusClient.ConnectAsync(address, new BusClientOptions { ClientName = "victim", ReconnectDelay = TimeSpan.FromSeconds(30) }, Ct);
        await child.AddSenderAsync("victim", ["#gone"], options: new SenderOptions { WillEvent = "#gone", WillData = Payload.Utf8("crashed") }, cancellationToken: Ct);
        Assert.Contains("victim", (await observer.GetSendersAsync(Ct)).Select(s => s.Name));

        var clock = Stopwatch.StartNew();
        serve.Kill();
        var will = await wills.NextAsync();
        var gone = await disconnects.NextAsync();
        Assert.Equal("crashed", will.Data.ToString());
        Assert.Equal("victim", gone.Sender);
        Assert.Contains("\"reason\":\"node_lost\"", gone.Data.ToString(), StringComparison.Ordinal);
        Assert.True(clock.Elapsed < options.LeasePeriod + TimeSpan.FromSeconds(3), $"#disconnect took {clock.Elapsed.TotalMilliseconds} ms");
        await using var again = await observer.AddSenderAsync("victim", ["#gone"], cancellationToken: Ct);
        Assert.False(disconnects.TryRead(out _), "#disconnect came twice");
        Assert.False(wills.TryRead(out _), "the will came twice");
    }
}
