using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Switchboard.Server;

/// <summary>
/// The broker's listeners on Kestrel, for <c>switchboard serve</c> (<see cref="BrokerHost"/>) and for a broker hosted in
/// an application (<c>AddSwitchboardBroker</c>) alike: the binary protocol on TCP and a Unix socket, the JSON-lines
/// gateway on TCP and a Unix socket, and an HTTP port, each as <see cref="BrokerOptions"/> asks. Once the host has
/// started, <see cref="Addresses"/> gives the real bound addresses (so port 0 is usable).
/// </summary>
public sealed class BrokerEndpoints
{
    private readonly BrokerOptions _options;
    private readonly IServiceProvider _services;
    private readonly List<ListenOptions> _binary = [];
    private readonly List<ListenOptions> _jsonLines = [];

    private readonly Security.TlsEndpoints? _tls;

    internal BrokerEndpoints(BrokerOptions options, IServiceProvider services)
    {
        _options = options;
        _services = services;
        _tls = options.Security.Tls is { } tls ? new Security.TlsEndpoints(tls) : null; // bad files fail here, before binding
    }

    /// <summary>The bound endpoints as client addresses: <c>sb://HOST:PORT</c>, <c>sb+unix:///PATH</c>, for the JSON-lines
    /// gateway <c>jsonl://HOST:PORT</c> and <c>jsonl+unix:///PATH</c>, and for every HTTP listener (the broker's own
    /// port, or the application's) <c>http://HOST:PORT</c> and the WebSocket <c>ws://HOST:PORT/ws</c>. Empty before the
    /// host has started.</summary>
    public IReadOnlyList<string> Addresses
    {
        get
        {
            var server = _services.GetRequiredService<IServer>();
            var bound = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            return [.. bound.SelectMany(Describe)];
        }
    }

    /// <summary>Adds the broker's listeners to Kestrel's.</summary>
    internal void Listen(KestrelServerOptions kestrel)
    {
        var host = ParseHost(_options.Host);
        if (_options.Port is { } port)
        {
            kestrel.Listen(host, port, listen => _binary.Add(Secured(listen).Serving<BusConnectionHandler>()));
        }

        if (_options.UnixSocketPath is { } path)
        {
            kestrel.ListenUnixSocket(Fresh(path), listen => _binary.Add(listen.Serving<BusConnectionHandler>()));
        }

        if (_options.JsonLinesPort is { } jsonPort)
        {
            kestrel.Listen(host, jsonPort, listen => _jsonLines.Add((_tls is { JsonLines: true } ? Secured(listen) : listen).Serving<JsonLinesConnectionHandler>()));
        }

        if (_options.JsonLinesUnixSocketPath is { } jsonPath)
        {
            kestrel.ListenUnixSocket(Fresh(jsonPath), listen => _jsonLines.Add(listen.Serving<JsonLinesConnectionHandler>()));
        }

        if (_options.HttpPort is { } httpPort)
        {
            // HTTP (HTTPS with TLS): the WebSocket, the gateway and whatever else the app maps
            kestrel.Listen(host, httpPort, listen => Secured(listen));
        }
    }

    /// <summary>TLS in front of a TCP listener when the broker has a certificate (<see cref="Security.SecurityOptions.Tls"/>).</summary>
    private ListenOptions Secured(ListenOptions listen)
    {
        _tls?.Apply(listen);
        return listen;
    }

    /// <summary>The address Kestrel binds for <see cref="BrokerOptions.Host"/>.</summary>
    internal static IPAddress ParseHost(string host) => host switch
    {
        "localhost" => IPAddress.Loopback,
        "*" or "0.0.0.0" => IPAddress.Any,
        _ => IPAddress.Parse(host),
    };

    /// <summary>A stale socket file from a previous run would make the bind fail.</summary>
    private static string Fresh(string path)
    {
        if (File.Exists(path))
        {
            File.Delete(path);
        }

        return path;
    }

    /// <summary>What a bound address is, told apart by the listen options the broker added: Kestrel reports each bound
    /// address, and updates the listen options with the port it really bound (so port 0 works).</summary>
    private IEnumerable<string> Describe(string address)
    {
        if (address.StartsWith("http://unix:", StringComparison.Ordinal))
        {
            var path = address["http://unix:".Length..];
            yield return (Serves(_jsonLines, path) ? "jsonl+unix://" : Serves(_binary, path) ? "sb+unix://" : "http+unix://") + path;
            yield break;
        }

        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri))
        {
            yield break;
        }

        if (Serves(_binary, uri.Port))
        {
            yield return $"{(_tls is null ? "sb" : "sbs")}://{uri.Host}:{uri.Port}";
        }
        else if (Serves(_jsonLines, uri.Port))
        {
            yield return $"jsonl://{uri.Host}:{uri.Port}";
        }
        else
        {
            var secure = uri.Scheme == Uri.UriSchemeHttps;
            yield return $"{uri.Scheme}://{uri.Host}:{uri.Port}";
            yield return $"{(secure ? "wss" : "ws")}://{uri.Host}:{uri.Port}/ws";
        }
    }

    private static bool Serves(List<ListenOptions> listens, int port) => listens.Exists(l => (l.EndPoint as IPEndPoint)?.Port == port);

    private static bool Serves(List<ListenOptions> listens, string path) => listens.Exists(l => l.SocketPath == path);
}

/// <summary>Puts a connection handler on a listener and hands the listener back.</summary>
internal static class ListenOptionsServing
{
    public static ListenOptions Serving<THandler>(this ListenOptions listen)
        where THandler : ConnectionHandler
    {
        listen.UseConnectionHandler<THandler>();
        return listen;
    }
}
