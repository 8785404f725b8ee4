using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

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
    public override Task OnConnectedAsync(ConnectionContext connection)
    {
        // A script that skips hello gets no heartbeat (a bare `nc` could not answer one), so the kernel probes the peer
        // too: a machine that vanished or a cable pulled ends the connection (its senders' last wills fire) after about
        // HeartbeatInterval x HeartbeatMisses of silence plus HeartbeatMisses unanswered probes, instead of never.
        if (connection.Features.Get<IConnectionSocketFeature>()?.Socket is { ProtocolType: ProtocolType.Tcp } socket)
        {
            var interval = Math.Max(1, (int)Math.Ceiling(_broker.Options.HeartbeatInterval.TotalSeconds));
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, interval * _broker.Options.HeartbeatMisses);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, interval);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, _broker.Options.HeartbeatMisses);
        }

        return new JsonLinesPeer(_broker, connection).RunAsync();
    }
}
