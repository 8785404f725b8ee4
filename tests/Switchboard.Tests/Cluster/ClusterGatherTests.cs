using Switchboard.Tests.Support;

namespace Switchboard.Tests.Cluster;

/// <summary>Gathers across nodes: every producer of the cluster is asked, results stream as they come, and the
/// summary keeps what arrived when a producer's node died.</summary>
public sealed class ClusterGatherTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_gather_asks_the_producers_of_every_node_and_keeps_the_results_of_a_dead_node_s_neighbours()
    {
        await using var cluster = await ClusterFixture.StartAsync(3);
        var a = await cluster.ConnectAsync(0, "a");
        var b = await cluster.ConnectAsync(1, "b");
        var doomed = await cluster.ConnectAsync(2, "doomed");
        await using var pa = await a.AddProducerAsync(["prices"], (_, _) => ValueTask.FromResult(Payload.Utf8("a")), new ProducerOptions { Name = "pa" }, Ct);
        await using var pb = await b.AddProducerAsync(["prices"], (_, _) => ValueTask.FromResult(Payload.Utf8("b")), new ProducerOptions { Name = "pb" }, Ct);
        await doomed.AddProducerAsync(["prices"], async (_, ct) => { await Task.Delay(TimeSpan.FromMinutes(1), ct); return default; }, new ProducerOptions { Name = "pslow" }, Ct);
        var results = new List<string>();
        await using var watcher = await a.ListenResultsAsync("prices", (m, _) => { lock (results) { results.Add(m.Sender); } return default; }, cancellationToken: Ct);

        var call = b.GatherAsync("prices", Payload.Utf8("q"), TimeSpan.FromSeconds(20), cancellationToken: Ct);
        var got = new List<string>();
        var reading = Task.Run(async () =>
        {
            await foreach (var result in call.WithCancellation(Ct))
            {
                got.Add(result.Producer + "=" + result.Data);
            }
        }, Ct);
        await Wait.UntilAsync(() => { lock (results) { return results.Count == 2; } }, "a result listener on another node sees both results");
        await cluster.KillNodeAsync(2);
        await reading.WithinAsync("the gather to end once the slow producer's node is lost");
        var summary = await call.Summary;
        Assert.Equal(["pa=a", "pb=b"], got.Order());
        Assert.Equal(["pa", "pb"], summary.Answered.Order());
        Assert.True(summary.Missing.Contains("pslow") || summary.Failed.ContainsKey("pslow"), "the dead node's producer is named in the summary");
    }
}
