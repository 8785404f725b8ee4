using System.Net;
using System.Net.Sockets;

namespace Switchboard;

/// <summary>A broker address: <c>sb://HOST:PORT</c> (TCP) or <c>sb+unix:///PATH</c> (Unix socket).</summary>
public sealed record BusAddress(string Text, EndPoint EndPoint)
{
    /// <summary>The default TCP port of the binary protocol.</summary>
    public const int DefaultPort = 7222;

    /// <summary>Parses an address; throws a <see cref="SwitchboardException"/> that says what a valid one looks like.</summary>
    public static BusAddress Parse(string address)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        if (address.StartsWith("sb+unix://", StringComparison.Ordinal))
        {
            var path = address["sb+unix://".Length..];
            if (path.Length == 0 || path[0] != '/')
            {
                throw Invalid(address);
            }

            return new BusAddress(address, new UnixDomainSocketEndPoint(path));
        }

        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme != "sb" || string.IsNullOrEmpty(uri.Host))
        {
            throw Invalid(address);
        }

        var port = uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port;
        EndPoint endPoint = IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(uri.Host, port);
        return new BusAddress(address, endPoint);
    }

    private static SwitchboardException Invalid(string address) =>
        new(ErrorCodes.InvalidArgument, $"'{address}' is not a broker address; use sb://HOST:PORT (TCP, default port {DefaultPort}) or sb+unix:///absolute/path (Unix socket).");

    /// <inheritdoc />
    public override string ToString() => Text;
}
