using Microsoft.Extensions.Hosting;

namespace Switchboard.Server;

/// <summary>
/// The broker's life in a host: started before any hosted service's <c>StartAsync</c> (so before Kestrel accepts a
/// client), told to go lame duck and disposed before any hosted service's <c>StopAsync</c> (so clients hear
/// <c>going_away</c> while their sockets are open, and move to another broker before Kestrel closes them).
/// </summary>
internal sealed class BrokerService(Broker broker, BrokerHosting hosting) : IHostedLifecycleService
{
    private int _state;

    /// <summary>True from the start of the host until it began stopping.</summary>
    public bool IsRunning => Volatile.Read(ref _state) == 1 && !broker.IsShuttingDown;

    /// <summary>True once the host began stopping.</summary>
    public bool IsStopped => Volatile.Read(ref _state) == 2;

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        await broker.StartAsync(cancellationToken);
        if (hosting.BeforeListening is { } before)
        {
            await before(broker);
        }

        Volatile.Write(ref _state, 1);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _state, 2);
        if (!broker.IsShuttingDown) // a broker killed on purpose (tests of crashes) says nothing on its way out
        {
            await broker.LameDuckAsync(cancellationToken: cancellationToken);
        }

        await broker.DisposeAsync();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>How the broker is hosted: <paramref name="OwnsProcess"/> for <c>switchboard serve</c> (<see cref="BrokerHost"/>),
/// whose Kestrel serves nothing else; false inside an application, whose own addresses and socket scheduling stay as
/// they are. <paramref name="BeforeListening"/> runs once the broker started and before any client can connect.</summary>
internal sealed record BrokerHosting(bool OwnsProcess, Func<Broker, Task>? BeforeListening = null);
