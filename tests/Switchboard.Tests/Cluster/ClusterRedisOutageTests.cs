using System.Text.Json;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Cluster;

/// <summary>Redis killed and started again during a steady publish between two nodes: local deliveries never stop,
/// what could not cross is counted, and afterwards cross-node delivery resumes, in order, without duplicates.</summary>
public sealed class ClusterRedisOutageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Local_traffic_goes_on_while_redis_is_down_and_cross_node_traffic_resumes_without_duplicates()
    {
        await using var cluster = await ClusterFixture.StartAsync(2);
        var a = await cluster.ConnectAsync(0, "a");
        var b = await cluster.ConnectAsync(1, "b");
        await using var sender = await a.AddSenderAsync("s1", ["tick"], cancellationToken: Ct);
        var local = new List<int>();
        var remote = new List<int>();
        await using var localListener = await a.ListenAsync("s1", "tick", (m, _) => Add(local, m), cancellationToken: Ct);
        await using var remoteListener = await b.ListenAsync("s1", "tick", (m, _) => Add(remote, m), cancellationToken: Ct);
        using var stop = new CancellationTokenSource();
        var publishing = PublishAsync(sender, stop.Token);
        await Wait.UntilAsync(() => Count(remote) > 50, "cross-node delivery before the outage");

        await cluster.Redis.KillAsync();
        await Wait.UntilAsync(() => !cluster.Node(0).IsConnected, "node 0 notices Redis is gone");
        var before = Count(local);
        await Wait.UntilAsync(() => Count(local) > before + 100, "local delivery while Redis is down");
        await Wait.UntilAsync(() => cluster.Node(0).Counters.LostMessages > 0, "messages that could not cross are counted");

        await cluster.Redis.StartAgainAsync();
        await Wait.UntilAsync(() => cluster.Node(0).IsConnected && cluster.Node(1).IsConnected, "both nodes are back", TimeSpan.FromSeconds(30));
        var resumed = Count(remote);
        await Wait.UntilAsync(() => Count(remote) > resumed + 50, "cross-node delivery after the outage", TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        var sent = await publishing;
        await a.FlushAsync(Ct);
        await Wait.UntilAsync(() => Count(local) == sent, "every message delivered locally");

        int[] seen;
        lock (remote)
        {
            seen = [.. remote];
        }

        for (var i = 1; i < seen.Length; i++)
        {
            Assert.True(seen[i] > seen[i - 1], $"message {seen[i]} arrived after {seen[i - 1]}: a duplicate or out of order");
        }

        Assert.Equal(Enumerable.Range(0, sent), local);
        Assert.Equal(1, cluster.Node(0).Counters.RedisOutages);
        Assert.Contains("s1", (await b.GetSendersAsync(Ct)).Select(s => s.Name)); // re-announced after the restart
    }

    [Fact]
    public async Task Healthz_and_metrics_report_the_outage_and_the_recovery()
    {
        await using var cluster = await ClusterFixture.StartAsync(1);
        var watched = await cluster.AddNodeAsync(http: true);
        await cluster.WaitJoinedAsync();
        using var http = new HttpClient { BaseAddress = new Uri(watched.Host.HttpAddress!) };
        Assert.Equal("ok", await http.GetStringAsync(new Uri("/healthz", UriKind.Relative), Ct));
        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), Ct);
        Assert.Contains("\nswitchboard_cluster_redis_up 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("\nswitchboard_cluster_nodes 1\n", metrics, StringComparison.Ordinal);

        await cluster.Redis.KillAsync();
        await Wait.UntilAsync(() => !watched.Node.IsConnected, "the node notices Redis is gone");
        using (var down = await http.GetAsync(new Uri("/healthz", UriKind.Relative), Ct))
        {
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, down.StatusCode);
            Assert.Contains("Redis", await down.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }

        metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), Ct);
        Assert.Contains("\nswitchboard_cluster_redis_up 0\n", metrics, StringComparison.Ordinal);
        Assert.Contains("\nswitchboard_cluster_redis_outages_total 1\n", metrics, StringComparison.Ordinal);

        await cluster.Redis.StartAgainAsync();
        await Wait.UntilAsync(() => watched.Node.IsConnected, "the node is back", TimeSpan.FromSeconds(30));
        Assert.Equal("ok", await http.GetStringAsync(new Uri("/healthz", UriKind.Relative), Ct));
    }

    private static ValueTask Add(List<int> list, BusMessage message)
    {
        lock (list)
        {
            list.Add(JsonSerializer.Deserialize<int>(message.Data.Bytes.Span));
        }

        return default;
    }

    private static int Count(List<int> list)
    {
        lock (list)
        {
            return list.Count;
        }
    }

    private static async Task<int> PublishAsync(ISender sender, CancellationToken stop)
    {
        var i = 0;
        while (!stop.IsCancellationRequested)
        {
            await sender.TriggerAsync("tick", Payload.Json(i++), cancellationToken: CancellationToken.None);
            await Task.Delay(1, CancellationToken.None);
        }

        return i;
    }
}

/// <summary>A subscription that dies silently (the connection up, nothing delivered): the node notices by its probe,
/// reports itself unhealthy, subscribes again and delivers again.</summary>
public sealed class ClusterInboxProbeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_silent_inbox_is_noticed_reported_and_healed()
    {
        await using var cluster = await ClusterFixture.StartAsync(1);
        var watched = await cluster.AddNodeAsync(http: true);
        await cluster.WaitJoinedAsync();
        var a = await cluster.ConnectAsync(0, "a");
        var b = await cluster.ConnectAsync(1, "b");
        await using var sender = await a.AddSenderAsync("s1", ["tick"], cancellationToken: Ct);
        await using var listener = await b.ListenAsync("s1", "tick", cancellationToken: Ct);
        using var http = new HttpClient { BaseAddress = new Uri(watched.Host.HttpAddress!) };

        var resubscribe = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await watched.Node.SilenceInboxAsync(resubscribe.Task);
        var deadline = DateTime.UtcNow + Wait.Timeout;
        while (true)
        {
            using var health = await http.GetAsync(new Uri("/healthz", UriKind.Relative), Ct);
            if (health.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable)
            {
                Assert.Contains("inbox", await health.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "/healthz never reported the silent inbox");
            await Task.Delay(5, Ct);
        }

        Assert.True(watched.Node.InboxSilent);
        resubscribe.SetResult();
        await Wait.UntilAsync(() => !watched.Node.InboxSilent, "the node subscribes again and its probe comes back");
        Assert.Equal("ok", await http.GetStringAsync(new Uri("/healthz", UriKind.Relative), Ct));
        await sender.TriggerAsync("tick", Payload.Utf8("after"), cancellationToken: Ct);
        Assert.Equal("after", (await listener.NextAsync()).Data.ToString());
    }
}
