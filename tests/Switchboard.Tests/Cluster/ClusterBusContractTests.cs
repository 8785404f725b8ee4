using Switchboard.Tests.Contract;

namespace Switchboard.Tests.Cluster;

/// <summary>The contract suite on a two-node cluster: participants alternate between the nodes, so every test that
/// uses two or more has them on different brokers joined only through Redis.</summary>
public sealed class ClusterBusContractTests : BusContractTests
{
    private ClusterFixture? _cluster;
    private int _clients;

    protected override async Task<IBus> CreateBusAsync()
    {
        _cluster ??= await ClusterFixture.StartAsync(2);
        var index = _clients++;
        return await _cluster.ConnectAsync(index % 2, $"test-{index}");
    }

    protected override Task AbortAsync(IBus bus) => ((BusClient)bus).KillAsync();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}
