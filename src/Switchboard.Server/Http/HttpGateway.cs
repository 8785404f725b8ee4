using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Switchboard.Server.Http;

/// <summary>Who calls the gateway: the client name and token it presented (both as given; checked by
/// <see cref="BrokerOptions.Authenticate"/> when the broker has one).</summary>
internal readonly record struct Caller(string Client, string? Token)
{
    /// <summary>True when this caller is <paramref name="owner"/>: same client name and token (compared in fixed time).</summary>
    public bool Is(Caller owner) =>
        Client == owner.Client
        && (Token is null) == (owner.Token is null)
        && (Token is null || CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(Token), Encoding.UTF8.GetBytes(owner.Token!)));
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

    /// <summary>Who calls: from <c>Authorization: Bearer TOKEN</c> (or <c>?token=</c>, for EventSource, which cannot set
    /// headers) and <c>X-Switchboard-Client</c> (or <c>?client=</c>); refused with 401 when the broker's
    /// <see cref="BrokerOptions.Authenticate"/> refuses them.</summary>
    public Caller Authenticate(HttpContext context)
    {
        var request = context.Request;
        string? token = null;
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            token = authorization["Bearer ".Length..].Trim();
        }
        else if (request.Query.TryGetValue("token", out var queryToken))
        {
            token = queryToken.ToString();
        }

        var client = request.Headers["X-Switchboard-Client"].ToString();
        if (client.Length == 0)
        {
            client = request.Query.TryGetValue("client", out var queryClient) && queryClient.ToString().Length > 0 ? queryClient.ToString() : "http";
        }

        if (client.Length > NameRules.MaxSenderLength)
        {
            throw new HttpGatewayException(StatusCodes.Status400BadRequest, ErrorCodes.InvalidField, $"The client name is {client.Length} characters long; at most {NameRules.MaxSenderLength} are allowed.");
        }

        if (Broker.Options.Authenticate?.Invoke(client, token) is { } refusal)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            throw new HttpGatewayException(StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized, $"{refusal} (send Authorization: Bearer TOKEN, or ?token= on SSE URLs).");
        }

        return new Caller(client, Broker.Options.Authenticate is null ? null : token);
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
