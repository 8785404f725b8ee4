using Switchboard.Tests.Support;

namespace Switchboard.Tests.Cluster;

/// <summary>Sender names are unique across the cluster: a claim in Redis tied to the owner node's lease.</summary>
public sealed class ClusterNameTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_name_taken_on_another_node_is_refused_as_on_one_broker_and_free_again_once_released()
    {
        await using var cluster = await ClusterFixture.StartAsync(2);
        var a = await cluster.ConnectAsync(0, "a");
        var b = await cluster.ConnectAsync(1, "b");
        var first = await a.AddSenderAsync("unique", ["tick"], cancellationToken: Ct);
        var clash = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await b.AddSenderAsync("unique", ["tick"], cancellationToken: Ct));
        Assert.Equal(ErrorCodes.SenderExists, clash.Code);
        Assert.Contains("already taken", clash.Message, StringComparison.Ordinal);
        await first.DisposeAsync();
        await Wait.UntilAsync(() => !cluster.Members[1].Host.Broker.Router.GetSenders().Any(s => s.Name == "unique"), "node 1 saw the sender leave");
        await using var second = await b.AddSenderAsync("unique", ["tick"], cancellationToken: Ct);
        var again = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await a.AddSenderAsync("unique", ["tick"], cancellationToken: Ct));
        Assert.Equal(ErrorCodes.SenderExists, again.Code);
    }

    [Fact]
    public async Task Two_nodes_racing_for_one_name_give_it_to_exactly_one()
    {
        await using var cluster = await ClusterFixture.StartAsync(2);
        var a = await cluster.ConnectAsync(0, "a");
        var b = await cluster.ConnectAsync(1, "b");
        for (var round = 0; round < 20; round++)
        {
            var name = $"race-{round}";
            var results = await Task.WhenAll(TryAdd(a, name), TryAdd(b, name));
            Assert.Equal(1, results.Count(r => r is not null));
            foreach (var won in results.Where(r => r is not null))
            {
                await won!.DisposeAsync();
            }
        }
    }

    private static async Task<ISender?> TryAdd(IBus bus, string name)
    {
        try
        {
            return await bus.AddSenderAsync(name, ["tick"], cancellationToken: Ct);
        }
        catch (SwitchboardException ex) when (ex.Code == ErrorCodes.SenderExists)
        {
            return null;
        }
    }
}
