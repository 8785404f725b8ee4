using Switchboard.Server;

namespace Switchboard.Tests.Bridge;

/// <summary>A <see cref="LocalBus"/> bridged to a client of a real broker (the far side's peers are other clients).</summary>
public sealed class LocalToClientBridgeTests : BridgeSuite
{
    private LocalBus? _local;
    private BrokerHost? _broker;

    protected override Task<IBus> NearAsync()
    {
        if (_local is null)
        {
            _local = NewLocal();
            return Task.FromResult<IBus>(_local);
        }

        return Task.FromResult<IBus>(Keep(_local.Connect()));
    }

    protected override async Task<IBus> FarAsync() => await ConnectAsync(_broker ??= await StartBrokerAsync());

    protected override Task AbortAsync(IBus participant) => ((LocalBus)participant).AbortAsync().AsTask();
}

/// <summary>Two brokers, each bus a client of its own broker: the leaf-node case.</summary>
public sealed class ClientToClientBridgeTests : BridgeSuite
{
    private BrokerHost? _near;
    private BrokerHost? _far;

    protected override async Task<IBus> NearAsync() => await ConnectAsync(_near ??= await StartBrokerAsync());

    protected override async Task<IBus> FarAsync() => await ConnectAsync(_far ??= await StartBrokerAsync());

    protected override Task AbortAsync(IBus participant) => ((BusClient)participant).KillAsync();
}
