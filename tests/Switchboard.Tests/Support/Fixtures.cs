using System.Net;
using System.Net.Sockets;

namespace Switchboard.Tests.Support;

/// <summary>What tests of brokers that die and come back share: a free port to restart on, and a client that
/// reconnects quickly.</summary>
internal static class Fixtures
{
    /// <summary>A TCP port free on 127.0.0.1 now (for a broker that must come back on the same port).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Client options that reconnect within tens of milliseconds.</summary>
    public static BusClientOptions FastReconnect(string name) => new()
    {
        ClientName = name,
        ReconnectDelay = TimeSpan.FromMilliseconds(50),
        MaxReconnectDelay = TimeSpan.FromMilliseconds(200),
    };
}
