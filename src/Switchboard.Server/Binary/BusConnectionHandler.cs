using Microsoft.AspNetCore.Connections;

namespace Switchboard.Server;

/// <summary>The Kestrel entry point for the binary protocol on any transport Kestrel offers (TCP, Unix sockets).</summary>
public sealed class BusConnectionHandler : ConnectionHandler
{
    private readonly Broker _broker;

    /// <summary>Creates the handler for <paramref name="broker"/>.</summary>
    public BusConnectionHandler(Broker broker) => _broker = broker;

    /// <inheritdoc />
    public override Task OnConnectedAsync(ConnectionContext connection) => new BinaryPeer(_broker, connection).RunAsync();
}
