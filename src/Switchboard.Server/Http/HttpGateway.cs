using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Switchboard.Server.Security;

namespace Switchboard.Server.Http;

/// <summary>Who calls the gateway: the client name it gave (logs) and the identity its credentials proved (null when the
/// broker checks no credentials: it may do everything).</summary>
internal readonly record struct Caller(string Client, Identity? Identity)
{
    /// <summary>True when this caller is <paramref name="owner"/>: the same client name and the same identity.</summary>
    public bool Is(Caller owner) => Client == owner.Client && Identity?.Name == owner.Identity?.Name;
}

/// <summary>A sender registered through <c>POST /senders</c>, and who registered it.</summary>
internal sealed record HttpSender(ISender Sender, Caller Owner);

/// <summary>
/// The HTTP gateway of one broker: SSE streams with resume, publish, request, gather, presence, metrics and the
/// dashboard (docs/protocol.md, "HTTP gateway"). It is one more participant on the broker's
/// router, with its own session: the senders it registers for HTTP callers and the listeners of its SSE streams live
/// there, and leave when it stops.
/// </summary>
internal sealed partial class HttpGateway : IAsyncDisposable
{
    private readonly LocalBus _bus;
    private readonly CancellationTokenSource _stopping;
    private readonly ConcurrentDictionary<string, HttpSender> _senders = new(StringComparer.Ordinal);
    private readonly DashboardHub _dashboard;
    private readonly IReadOnlyDictionary<string, StaticFile> _files;
    private int _senderCount;
    private int _sseClients;
    private readonly ConcurrentDictionary<IPAddress, int> _sseByAddress = new();
    private readonly ConcurrentDictionary<SseStop, byte> _liveStops = new();
    private int _disposed;

    public HttpGateway(Broker broker, CancellationToken applicationStopping)
    {
        Broker = broker;
        Options = broker.Options.Http;
        Options.Validate();
        Time = broker.Options.Bus.TimeProvider;
        Log = broker.Options.Bus.LoggerFactory.CreateLogger("Switchboard.Server.Http");
        _bus = LocalBus.Over(broker.Router);
        Metrics = new BrokerMetrics(broker, () => SseClients, () => StreamCount, () => Volatile.Read(ref _senderCount));
        Streams = new SseStreams(_bus, Options, Metrics, Log, Time);
        _dashboard = new DashboardHub(this);
        _files = StaticFile.LoadDashboard();
        _stopping = CancellationTokenSource.CreateLinkedTokenSource(broker.Stopping, applicationStopping);
        _stopping.Token.Register(() => _ = DisposeAsync().AsTask());
        broker.SecurityReloaded += OnSecurityReloaded;
    }

    public Broker Broker { get; }

    public HttpGatewayOptions Options { get; }

    public TimeProvider Time { get; }

    public ILogger Log { get; }

    /// <summary>The gateway's own participant on the broker's router.</summary>
    public IBus Bus => _bus;

    public BrokerMetrics Metrics { get; }

    public SseStreams Streams { get; }

    private int StreamCount => Streams.Count;

    /// <summary>SSE connections open now (event streams and dashboards).</summary>
    public int SseClients => Volatile.Read(ref _sseClients);

    /// <summary>Cancelled when the broker or the web application stops: ends every SSE connection.</summary>
    public CancellationToken Stopping => _stopping.Token;

    public bool IsHttpSender(string name) => _senders.ContainsKey(name);

    /// <summary>Who calls: credentials from <c>Authorization: Bearer CREDENTIALS</c> (a token or a JWT),
    /// <c>Authorization: Basic</c> (a user and password), or <c>?token=</c> (for EventSource, which cannot set headers),
    /// and the client name from <c>X-Switchboard-Client</c> (or <c>?client=</c>); refused with 401 when the broker's
    /// authenticator refuses them.</summary>
    public async ValueTask<Caller> AuthenticateAsync(HttpContext context)
    {
        var request = context.Request;
        var client = request.Headers["X-Switchboard-Client"].ToString();
        if (client.Length == 0)
        {
            client = request.Query.TryGetValue("client", out var queryClient) && queryClient.ToString().Length > 0 ? queryClient.ToString() : "http";
        }

        if (client.Length > NameRules.MaxSenderLength)
        {
            throw new HttpGatewayException(StatusCodes.Status400BadRequest, ErrorCodes.InvalidField, $"The client name is {client.Length} characters long; at most {NameRules.MaxSenderLength} are allowed.");
        }

        if (Broker.Authenticator is null)
        {
            return new Caller(client, null);
        }

        var result = await Broker.AuthenticateAsync(new AuthRequest(client, ReadCredentials(request), context.Connection.RemoteIpAddress, context.Connection.ClientCertificate), context.RequestAborted);
        if (result.Identity is { } identity)
        {
            return new Caller(client, identity);
        }

        context.Response.Headers.WWWAuthenticate = "Bearer, Basic realm=\"switchboard\", charset=\"UTF-8\"";
        throw new HttpGatewayException(StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized, $"{result.Refusal ?? "The credentials were refused."} (send Authorization: Bearer TOKEN or Basic, or ?token= on SSE URLs).");
    }

    /// <summary>The one credentials string of every surface: a bearer token or JWT as it is, Basic as <c>USER:PASSWORD</c>.</summary>
    private static string? ReadCredentials(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }

        if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                return Encoding.UTF8.GetString(Convert.FromBase64String(authorization["Basic ".Length..].Trim()));
            }
            catch (FormatException)
            {
                throw new HttpGatewayException(StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized, "Authorization: Basic must carry base64 of USER:PASSWORD.");
            }
        }

        return request.Query.TryGetValue("token", out var token) ? token.ToString() : null;
    }

    /// <summary>Counts one more SSE connection, refusing it over <see cref="HttpGatewayOptions.MaxSseClients"/> in all or
    /// <see cref="HttpGatewayOptions.MaxSseClientsPerAddress"/> from its address (so one machine cannot hold every slot).</summary>
    private IPAddress EnterSseClient(HttpContext context)
    {
        var address = context.Connection.RemoteIpAddress ?? IPAddress.None;
        var fromAddress = _sseByAddress.AddOrUpdate(address, 1, static (_, n) => n + 1);
        if (fromAddress > Options.MaxSseClientsPerAddress)
        {
            ExitAddress(address);
            throw new HttpGatewayException(StatusCodes.Status429TooManyRequests, ErrorCodes.TooMany, $"{address} already has {Options.MaxSseClientsPerAddress} SSE connections open (HttpGatewayOptions.MaxSseClientsPerAddress); close some first.");
        }

        if (Interlocked.Increment(ref _sseClients) > Options.MaxSseClients)
        {
            ExitSseClient(address);
            throw new HttpGatewayException(StatusCodes.Status503ServiceUnavailable, ErrorCodes.TooMany, $"This broker already has {Options.MaxSseClients} SSE connections open (HttpGatewayOptions.MaxSseClients); try later.");
        }

        return address;
    }

    private void ExitSseClient(IPAddress address)
    {
        Interlocked.Decrement(ref _sseClients);
        ExitAddress(address);
    }

    private void ExitAddress(IPAddress address)
    {
        // The entry goes when its count reaches 0, so addresses that left cost nothing.
        while (_sseByAddress.TryGetValue(address, out var count))
        {
            if (count == 1 ? _sseByAddress.TryRemove(KeyValuePair.Create(address, 1)) : _sseByAddress.TryUpdate(address, count - 1, count))
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Broker.SecurityReloaded -= OnSecurityReloaded;
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await _dashboard.DisposeAsync();
            await Streams.DisposeAsync();
            foreach (var name in _senders.Keys)
            {
                if (_senders.TryRemove(name, out var sender))
                {
                    await sender.Sender.DisposeAsync();
                }
            }

            await _bus.DisposeAsync();
        }
        catch (ObjectDisposedException)
        {
            // The router went first (the broker stopped): everything registered went with it.
        }
        finally
        {
            Metrics.Dispose();
        }
    }
}
