using Microsoft.AspNetCore.Connections;

namespace Switchboard.Server;

/// <summary>
/// The Kestrel entry point for the JSON-lines gateway (one UTF-8 JSON object per line each way, for scripts and other
/// languages; see <c>docs/protocol.md</c>) on any transport Kestrel offers (TCP, Unix sockets).
/// </summary>
public sealed class JsonLinesConnectionHandler : ConnectionHandler
{
    private readonly Broker _broker;

    /// <summary>Creates the handler for <paramref name="broker"/>.</summary>
    public JsonLinesConnectionHandler(Broker broker) => _broker = broker;

    /// <inheritdoc />
    public override Task OnConnectedAsync(ConnectionContext connection) => new JsonLinesConnection(_broker, connection).RunAsync();
}
