using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Switchboard.Server;

/// <summary>
/// Runs a <see cref="Broker"/> on Kestrel: the binary protocol on TCP and, if asked, a Unix socket; the JSON-lines
/// gateway on TCP and a Unix socket when asked (<see cref="BrokerOptions.JsonLinesPort"/>, <see cref="BrokerOptions.JsonLinesUnixSocketPath"/>).
/// <see cref="Endpoints"/> gives the real bound addresses (so port 0 is usable). Stopping is a lame-duck shutdown.
/// </summary>
public sealed class BrokerHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _stopped;

    private BrokerHost(WebApplication app, Broker broker, IReadOnlyList<string> endpoints)
    {
        _app = app;
        Broker = broker;
        Endpoints = endpoints;
    }

    /// <summary>The broker.</summary>
    public Broker Broker { get; }

    /// <summary>The bound endpoints as client addresses: <c>sb://HOST:PORT</c>, <c>sb+unix:///PATH</c>, and for the
    /// JSON-lines gateway <c>jsonl://HOST:PORT</c>, <c>jsonl+unix:///PATH</c>.</summary>
    public IReadOnlyList<string> Endpoints { get; }

    /// <summary>The TCP address, if TCP is on.</summary>
    public string? TcpAddress => Endpoints.FirstOrDefault(e => e.StartsWith("sb://", StringComparison.Ordinal) || e.StartsWith("sbs://", StringComparison.Ordinal));

    /// <summary>The Unix socket address, if on.</summary>
    public string? UnixAddress => Endpoints.FirstOrDefault(e => e.StartsWith("sb+unix://", StringComparison.Ordinal));

    /// <summary>The HTTP base address (<c>http://HOST:PORT</c>), if HTTP is on.</summary>
    public string? HttpAddress => Endpoints.FirstOrDefault(e => e.StartsWith("http://", StringComparison.Ordinal) || e.StartsWith("https://", StringComparison.Ordinal));

    /// <summary>The WebSocket address of the binary protocol (<c>ws://HOST:PORT/ws</c>), if HTTP is on.</summary>
    public string? WebSocketAddress => Endpoints.FirstOrDefault(e => e.StartsWith("ws://", StringComparison.Ordinal) || e.StartsWith("wss://", StringComparison.Ordinal));

    /// <summary>The JSON-lines gateway's TCP address (<c>jsonl://HOST:PORT</c>), if on.</summary>
    public string? JsonLinesAddress => Endpoints.FirstOrDefault(e => e.StartsWith("jsonl://", StringComparison.Ordinal));

    /// <summary>
    /// For a process that is only a broker (<c>switchboard serve</c>): has .NET run socket completions on its epoll
    /// threads instead of queueing each to the thread pool, so with <see cref="BrokerOptions.InlineSocketScheduling"/> a
    /// received batch is parsed, routed and written to its recipients' sockets without changing threads (on a 2-CPU
    /// machine this doubled 1 → 1 throughput and halved request latency). It is process-wide and read once, when the
    /// first socket is used: call it first thing (a call after that has no effect, and this method cannot tell), and
    /// not in a process whose socket continuations may block (an app that also runs blocking code on BusClient
    /// callbacks, in-process listeners or request handlers). Returns whether inline completions are asked for: an
    /// operator's own setting of the variable wins.
    /// </summary>
    public static bool UseInlineSocketCompletions()
    {
        const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
        if (Environment.GetEnvironmentVariable(Variable) is { } set)
        {
            return set == "1" || set.Equals("true", StringComparison.OrdinalIgnoreCase); // the operator decided
        }

        Environment.SetEnvironmentVariable(Variable, "1");
        return true;
    }

    /// <summary>Binds and starts. A taken port fails here with an <see cref="IOException"/> naming it.</summary>
    /// <param name="options">Endpoints and limits.</param>
    /// <param name="logging">Adds log providers (none by default).</param>
    /// <param name="beforeListening">Runs after the broker exists and before any client can connect (register in-process participants here).</param>
    /// <param name="cancellationToken">Abandons starting.</param>
    public static async Task<BrokerHost> StartAsync(BrokerOptions? options = null, Action<ILoggingBuilder>? logging = null, Func<Broker, Task>? beforeListening = null, CancellationToken cancellationToken = default)
    {
        options ??= new BrokerOptions();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        logging?.Invoke(builder.Logging);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.LameDuckGrace + TimeSpan.FromSeconds(5));
        // The broker logs where the host logs, unless the caller gave the router its own logger factory.
        builder.Services.AddSingleton(services => new Broker(options.Bus.LoggerFactory is NullLoggerFactory
            ? options with { Bus = options.Bus with { LoggerFactory = services.GetRequiredService<ILoggerFactory>() } }
            : options));
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, LargeBlockMemoryPool.Factory>();
        // The broker's read and write loops never block, so they can run on the thread that completed the socket
        // operation: no thread-pool hop between a receive and the routing of its frames, or between a flush and its send.
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = options.InlineSocketScheduling);
        var tls = options.Security.Tls is { } tlsOptions ? new Security.TlsEndpoints(tlsOptions) : null; // bad files fail here, before binding
        var bound = new BoundListeners();
        builder.WebHost.ConfigureKestrel(kestrel => Listen(kestrel, options, tls, bound));
        var app = builder.Build();
        var broker = app.Services.GetRequiredService<Broker>();
        HttpEndpoints.Map(app, broker);
        await broker.StartAsync(cancellationToken);
        try
        {
            if (beforeListening is not null)
            {
                await beforeListening(broker);
            }

            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await broker.DisposeAsync();
            await app.DisposeAsync();
            throw;
        }

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var endpoints = NameEndpoints(addresses, options, bound);
        return new BrokerHost(app, broker, endpoints);
    }

    /// <summary>The listen options of the endpoints told apart by port once bound (Kestrel fills in the real port).</summary>
    private sealed class BoundListeners
    {
        public ListenOptions? JsonLines { get; set; }

        public ListenOptions? Http { get; set; }
    }

    /// <summary>Binds every endpoint <paramref name="options"/> asks for, with TLS in front of the TCP ones when asked.</summary>
    private static void Listen(KestrelServerOptions kestrel, BrokerOptions options, Security.TlsEndpoints? tls, BoundListeners bound)
    {
        if (options.Port is { } port)
        {
            kestrel.Listen(ParseHost(options.Host), port, listen =>
            {
                tls?.Apply(listen);
                listen.UseConnectionHandler<BusConnectionHandler>();
            });
        }

        if (options.UnixSocketPath is { } path)
        {
            if (File.Exists(path))
            {
                File.Delete(path); // a stale socket file from a previous run would make the bind fail
            }

            kestrel.ListenUnixSocket(path, listen => listen.UseConnectionHandler<BusConnectionHandler>());
        }

        if (options.JsonLinesPort is { } jsonPort)
        {
            kestrel.Listen(ParseHost(options.Host), jsonPort, listen =>
            {
                bound.JsonLines = listen;
                if (tls is { JsonLines: true })
                {
                    tls.Apply(listen);
                }

                listen.UseConnectionHandler<JsonLinesConnectionHandler>();
            });
        }

        if (options.HttpPort is { } httpPort)
        {
            kestrel.Listen(ParseHost(options.Host), httpPort, listen =>
            {
                bound.Http = listen;
                tls?.Apply(listen);
            });
        }

        if (options.JsonLinesUnixSocketPath is { } jsonPath)
        {
            if (File.Exists(jsonPath))
            {
                File.Delete(jsonPath);
            }

            kestrel.ListenUnixSocket(jsonPath, listen => listen.UseConnectionHandler<JsonLinesConnectionHandler>());
        }
    }

    /// <summary>
    /// The bound addresses Kestrel reports, as client addresses. The JSON-lines endpoint is told apart by its socket path,
    /// or by the port it really bound (Kestrel updates the listen options with it, so port 0 works); Kestrel reports a
    /// TLS endpoint as https whatever it serves, so the binary protocol's is named sbs.
    /// </summary>
    private static List<string> NameEndpoints(ICollection<string> addresses, BrokerOptions options, BoundListeners bound)
    {
        var endpoints = new List<string>();
        var jsonLinesPort = (bound.JsonLines?.EndPoint as IPEndPoint)?.Port;
        var httpPortBound = (bound.Http?.EndPoint as IPEndPoint)?.Port;
        foreach (var address in addresses)
        {
            if (address.StartsWith("http://unix:", StringComparison.Ordinal))
            {
                var path = address["http://unix:".Length..];
                endpoints.Add((path == options.JsonLinesUnixSocketPath ? "jsonl+unix://" : "sb+unix://") + path);
            }
            else if (Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Port == httpPortBound)
            {
                var secure = uri.Scheme == "https";
                endpoints.Add($"{(secure ? "https" : "http")}://{uri.Host}:{uri.Port}");
                endpoints.Add($"{(secure ? "wss" : "ws")}://{uri.Host}:{uri.Port}/ws");
            }
            else if (uri is not null)
            {
                var scheme = uri.Port == jsonLinesPort ? "jsonl" : uri.Scheme == "https" ? "sbs" : "sb";
                endpoints.Add($"{scheme}://{uri.Host}:{uri.Port}");
            }
        }

        return endpoints;
    }

    private static IPAddress ParseHost(string host) => host switch
    {
        "localhost" => IPAddress.Loopback,
        "*" or "0.0.0.0" => IPAddress.Any,
        _ => IPAddress.Parse(host),
    };

    /// <summary>Lame duck: tells every client to go elsewhere, waits a little for them, then stops.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await Broker.LameDuckAsync(cancellationToken: cancellationToken);
        await Broker.DisposeAsync();
        await _app.StopAsync(cancellationToken);
    }

    /// <summary>Stops like a crashed process: every connection is cut at once, with no lame-duck notice (tests of reconnects and wills).</summary>
    internal async Task KillAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await Broker.DisposeAsync();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }

    /// <summary>Waits until the host is asked to stop (Ctrl+C, SIGTERM).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
    }
}
