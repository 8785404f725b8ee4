using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

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

    /// <summary>Binds and starts. A taken port fails here with an <see cref="IOException"/> naming it. The broker is set up
    /// exactly as <c>services.AddSwitchboardBroker()</c> + <c>app.MapSwitchboard()</c> set it up in an application, on a
    /// Kestrel of its own that serves nothing else.</summary>
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
        builder.Services.AddSwitchboardBroker(options, new BrokerHosting(OwnsProcess: true, beforeListening));
        var app = builder.Build();
        app.MapSwitchboard();
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync(); // disposes the broker too
            throw;
        }

        return new BrokerHost(app, app.Services.GetRequiredService<Broker>(), app.Services.GetRequiredService<BrokerEndpoints>().Addresses);
    }

    /// <summary>Lame duck: tells every client to go elsewhere, waits a little for them, then stops.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await _app.StopAsync(cancellationToken); // the broker goes lame duck, then is disposed, before Kestrel stops
    }

    /// <summary>Stops like a crashed process: every connection is cut at once, with no lame-duck notice (tests of reconnects and wills).</summary>
    internal async Task KillAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await Broker.DisposeAsync(); // first, so stopping the host finds it shut down and sends no lame-duck notice
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
