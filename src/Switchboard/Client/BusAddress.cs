using System.IO.Ports;
using System.Net;
using System.Net.Sockets;

namespace Switchboard;

/// <summary>
/// Where a broker is: <c>sb://HOST:PORT</c> (TCP), <c>sbs://HOST:PORT</c> (TCP with TLS), <c>sb+unix:///PATH</c> (Unix socket), <c>serial:///dev/ttyX?baud=N</c>
/// (a serial line, CRC on), or any duplex <see cref="Stream"/> made by <see cref="FromStream"/>.
/// </summary>
public sealed record BusAddress
{
    /// <summary>The default TCP port of the binary protocol.</summary>
    public const int DefaultPort = 7222;

    private BusAddress(string text, EndPoint? endPoint, Func<CancellationToken, ValueTask<Stream>>? openStream, bool lossy)
    {
        Text = text;
        EndPoint = endPoint;
        OpenStream = openStream;
        IsLossy = lossy;
    }

    /// <summary>The address as given.</summary>
    public string Text { get; }

    /// <summary>The socket end point (TCP or Unix), or null for a stream carrier.</summary>
    public EndPoint? EndPoint { get; }

    /// <summary>Opens the carrier's stream (null for sockets).</summary>
    public Func<CancellationToken, ValueTask<Stream>>? OpenStream { get; }

    /// <summary>The name the broker's TLS certificate must carry (<c>sbs://</c> addresses); null: no TLS.</summary>
    public string? TlsHost { get; private init; }

    /// <summary>True for carriers that can corrupt bytes (serial lines): frames carry a CRC-32C and a corrupt frame is dropped and counted, not fatal.</summary>
    public bool IsLossy { get; }

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

            return new BusAddress(address, new UnixDomainSocketEndPoint(path), null, lossy: false);
        }

        if (address.StartsWith("serial://", StringComparison.Ordinal))
        {
            var rest = address["serial://".Length..];
            var query = rest.IndexOf('?', StringComparison.Ordinal);
            var port = query < 0 ? rest : rest[..query];
            var baud = 115_200;
            if (query >= 0 && rest[(query + 1)..].StartsWith("baud=", StringComparison.Ordinal) && !int.TryParse(rest[(query + 6)..], out baud))
            {
                throw Invalid(address);
            }

            return port.Length == 0 ? throw Invalid(address) : Serial(port, baud);
        }

        if (address.StartsWith("ws://", StringComparison.Ordinal) || address.StartsWith("wss://", StringComparison.Ordinal))
        {
            return Uri.TryCreate(address, UriKind.Absolute, out var ws) ? WebSocket(ws) : throw Invalid(address);
        }

        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme is not ("sb" or "sbs") || string.IsNullOrEmpty(uri.Host))
        {
            throw Invalid(address);
        }

        var tcpPort = uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port;
        EndPoint endPoint = IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) ? new IPEndPoint(ip, tcpPort) : new DnsEndPoint(uri.Host, tcpPort);
        return new BusAddress(address, endPoint, null, lossy: false) { TlsHost = uri.Scheme == "sbs" ? uri.IdnHost : null };
    }

    /// <summary>A serial line: 8N1 at <paramref name="baudRate"/>, CRC-32C on every frame.</summary>
    /// <param name="portName">The device, e.g. <c>/dev/ttyUSB0</c>.</param>
    /// <param name="baudRate">The line speed.</param>
    public static BusAddress Serial(string portName, int baudRate = 115_200) =>
        new($"serial://{portName}?baud={baudRate}", null, _ =>
        {
            var port = new SerialPort(portName, baudRate, Parity.None, 8, StopBits.One) { Handshake = Handshake.None, ReadTimeout = SerialPort.InfiniteTimeout };
            port.Open();
            return ValueTask.FromResult(port.BaseStream);
        }, lossy: true);

    /// <summary>The binary protocol over a WebSocket (the broker's <c>/ws</c> endpoint), for networks that only let HTTP through.</summary>
    /// <param name="uri">The WebSocket URI, e.g. <c>ws://127.0.0.1:7280/ws</c> (<c>wss://</c> with TLS).</param>
    public static BusAddress WebSocket(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        return new(uri.ToString(), null, cancellationToken => OpenWebSocketAsync(uri, null, cancellationToken), lossy: false) { WebSocketUri = uri };
    }

    /// <summary>The WebSocket URI of a <see cref="WebSocket"/> address (null for others): a client with its own TLS
    /// settings opens it through <see cref="OpenWebSocketAsync"/>.</summary>
    internal Uri? WebSocketUri { get; private init; }

    /// <summary>Opens a WebSocket carrier; for <c>wss://</c> with <paramref name="tls"/>, its roots replace the system's
    /// and its client certificate is presented (the broker's certificate is verified either way).</summary>
    internal static async ValueTask<Stream> OpenWebSocketAsync(Uri uri, BusTlsOptions? tls, CancellationToken cancellationToken)
    {
        var socket = new System.Net.WebSockets.ClientWebSocket();
        try
        {
            if (tls?.TrustedRoots is { } roots)
            {
                socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, errors) => IsTrusted(certificate, errors, roots);
            }

            if (tls?.ClientCertificate is { } client)
            {
                socket.Options.ClientCertificates.Add(client);
            }

            await socket.ConnectAsync(uri, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return System.Net.WebSockets.WebSocketStream.Create(socket, System.Net.WebSockets.WebSocketMessageType.Binary, ownsWebSocket: true);
    }

    /// <summary>The name must match (no name errors), and the chain must end at one of <paramref name="roots"/>.</summary>
    private static bool IsTrusted(System.Security.Cryptography.X509Certificates.X509Certificate? certificate, System.Net.Security.SslPolicyErrors errors, System.Security.Cryptography.X509Certificates.X509Certificate2Collection roots)
    {
        if (certificate is null || (errors & (System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch | System.Net.Security.SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
        chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        using var leaf = new System.Security.Cryptography.X509Certificates.X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    /// <summary>Any duplex stream as a carrier; <paramref name="open"/> is called again on every reconnect.</summary>
    /// <param name="name">A name for logs and events.</param>
    /// <param name="open">Opens the stream.</param>
    /// <param name="lossy">The stream can corrupt bytes: use CRC-32C, drop and count corrupt frames.</param>
    public static BusAddress FromStream(string name, Func<CancellationToken, ValueTask<Stream>> open, bool lossy = true) =>
        new(name, null, open, lossy);

    private static SwitchboardException Invalid(string address) =>
        new(ErrorCodes.InvalidArgument, $"'{address}' is not a broker address; use sb://HOST:PORT (TCP, default port {DefaultPort}), sbs://HOST:PORT (TCP with TLS), sb+unix:///absolute/path (Unix socket), ws://HOST:PORT/ws (WebSocket) or serial:///dev/ttyX?baud=115200.");

    /// <inheritdoc />
    public override string ToString() => Text;
}
