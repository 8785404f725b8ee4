namespace Switchboard.Tests.Contract;

/// <summary>The contract suite against the in-process bus: participants are <see cref="LocalBus.Connect"/> peers of one bus.</summary>
public sealed class LocalBusContractTests : BusContractTests
{
    private LocalBus? _root;

    protected override Task<IBus> CreateBusAsync()
    {
        if (_root is null)
        {
            _root = new LocalBus();
            return Task.FromResult<IBus>(_root);
        }

        return Task.FromResult<IBus>(_root.Connect());
    }

    protected override Task AbortAsync(IBus bus) => ((LocalBus)bus).AbortAsync().AsTask();
}
