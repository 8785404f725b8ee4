using Switchboard.Bridge;

namespace Switchboard;

/// <summary>
/// Joins two buses on chosen listener patterns, one way or both (seed 004's <c>forward</c>; like a NATS leaf node):
/// a <see cref="LocalBus"/> and a <see cref="BusClient"/>, two clients of two brokers, or any two <see cref="IBus"/>.
/// Made by <see cref="BusBridgeExtensions.BridgeAsync"/>; disposing it removes everything it registered on both buses.
/// </summary>
/// <remarks>
/// <para><b>Names.</b> For every origin sender it forwards, the bridge registers a mirror sender on the far bus named
/// <see cref="BridgeRoute.NamePrefix"/> + the origin name (no prefix: the same name), declaring the origin's events,
/// so far listeners that name the sender (<c>ListenAsync("kitchen", "tick")</c>) work. Origin senders are learnt from
/// <c>#connect</c>/<c>#disconnect</c> and <see cref="IBus.GetSendersAsync"/>. A name the far bus already has is never
/// taken over: the far bus refuses the mirror, the bridge counts it (<see cref="BridgeCounters.Clashes"/>), raises
/// <see cref="Error"/>, and drops (and counts) that sender's messages. The origin name always travels in the
/// <see cref="BridgeHeaders.Origin"/> header.</para>
/// <para><b>Loops.</b> A direction never forwards a message whose sender is one of the other direction's mirrors
/// (the bus stamps senders, so this cannot be forged), nor one whose <see cref="BridgeHeaders.Via"/> header already
/// names this bridge, nor one that crossed <see cref="BridgeOptions.MaxHops"/> bridges; each is counted in
/// <see cref="BridgeCounters.Skipped"/>. Chains (A↔B↔C) work because each bridge only skips its own mirrors; bridges
/// must form a tree, as leaf nodes do: a cycle shows as name clashes, and the hop limit ends what still circles.</para>
/// <para><b>Requests and gathers.</b> A mirror of a sender chosen in <see cref="BridgeRoute.RequestSenders"/> answers
/// each request by asking the origin sender. Each direction with <see cref="BridgeRoute.GatherTopics"/> registers one
/// producer on the far bus (<c>NAME-out</c> / <c>NAME-in</c>) that gathers on the origin bus and answers with all the
/// origin producers' results packed into one; <see cref="Unpack"/> reads them back with their producers' names.</para>
/// <para><b>Order and drops.</b> Each filter is one ordinary listener on the origin bus with
/// <see cref="BridgeRoute.Listener"/>'s options, forwarding one message at a time: order from one sender to one far
/// listener is kept. Its overflow drops are counted in <see cref="BridgeCounters.Dropped"/>.</para>
/// <para><b>Reconnects.</b> A <see cref="BusClient"/> registers its listeners, senders and producers again by itself;
/// when either bus reconnects, the bridge lists the origin's senders again and removes, adds or retries mirrors.</para>
/// </remarks>
public sealed class BusBridge : IAsyncDisposable
{
    private static readonly BridgeCounters None = new(() => 0);
    private readonly BridgeWay? _outbound;
    private readonly BridgeWay? _inbound;
    private readonly BusClient?[] _clients;
    private int _disposed;

    private BusBridge(IBus bus, IBus other, BridgeOptions options, string name)
    {
        Options = options;
        Name = name;
        _outbound = options.Outbound is { } outbound ? new BridgeWay(this, BridgeDirection.Outbound, bus, other, outbound) : null;
        _inbound = options.Inbound is { } inbound ? new BridgeWay(this, BridgeDirection.Inbound, other, bus, inbound) : null;
        if (_outbound is not null && _inbound is not null)
        {
            _outbound.Reverse = _inbound;
            _inbound.Reverse = _outbound;
        }

        _clients = [bus as BusClient, other as BusClient];
    }

    /// <summary>The bridge's name (<see cref="BridgeOptions.Name"/>), as <see cref="BridgeHeaders.Via"/> carries it.</summary>
    public string Name { get; }

    /// <summary>Counters of the outbound direction (all zero when it forwards nothing).</summary>
    public BridgeCounters Outbound => _outbound?.Counters ?? None;

    /// <summary>Counters of the inbound direction (all zero when it forwards nothing).</summary>
    public BridgeCounters Inbound => _inbound?.Counters ?? None;

    /// <summary>Messages forwarded, both directions.</summary>
    public long Forwarded => Outbound.Forwarded + Inbound.Forwarded;

    /// <summary>Messages dropped, both directions (see <see cref="BridgeCounters.Dropped"/>).</summary>
    public long Dropped => Outbound.Dropped + Inbound.Dropped;

    /// <summary>The mirror senders now kept on either bus, including refused ones (with their error).</summary>
    public IReadOnlyList<BridgeMirror> Mirrors =>
        [.. (_outbound?.Snapshot() ?? []).Concat(_inbound?.Snapshot() ?? []).OrderBy(m => m.Direction).ThenBy(m => m.Origin, StringComparer.Ordinal)];

    /// <summary>Raised for what the bridge could not do: a mirror name the far bus refused, a forward that failed.
    /// Each is also counted. Handlers run on the bridge's threads and must not block.</summary>
    public event EventHandler<SwitchboardException>? Error;

    internal BridgeOptions Options { get; }

    /// <summary>Starts a bridge between <paramref name="bus"/> and <paramref name="other"/>; returns once its listeners
    /// are registered and the senders online on either side are mirrored.</summary>
    /// <param name="bus">The bus whose <see cref="BridgeOptions.Outbound"/> route is forwarded to <paramref name="other"/>.</param>
    /// <param name="other">The other bus.</param>
    /// <param name="options">What crosses, each way.</param>
    /// <param name="cancellationToken">Abandons starting (what was registered is removed).</param>
    public static async Task<BusBridge> StartAsync(IBus bus, IBus other, BridgeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(other);
        ArgumentNullException.ThrowIfNull(options);
        var name = options.Name ?? $"bridge-{Guid.NewGuid().ToString("N")[..8]}";
        Validate(bus, other, options, name);
        var bridge = new BusBridge(bus, other, options, name);
        try
        {
            await bridge.StartWaysAsync(cancellationToken);
        }
        catch
        {
            await bridge.DisposeAsync();
            throw;
        }

        return bridge;
    }

    private async Task StartWaysAsync(CancellationToken cancellationToken)
    {
        foreach (var client in _clients)
        {
            if (client is not null)
            {
                client.Reconnected += OnReconnected;
            }
        }

        foreach (var way in Ways())
        {
            await way.StartAsync(cancellationToken);
        }

        foreach (var way in Ways())
        {
            await way.ResyncAsync().WaitAsync(cancellationToken);
        }
    }

    private IEnumerable<BridgeWay> Ways()
    {
        if (_outbound is not null)
        {
            yield return _outbound;
        }

        if (_inbound is not null)
        {
            yield return _inbound;
        }
    }

    private void OnReconnected(object? sender, ConnectionEventArgs e)
    {
        foreach (var way in Ways())
        {
            way.RequestResync();
        }
    }

    /// <summary>The origin results a bridge packed into <paramref name="result"/> (from every bridge it crossed), each
    /// with its own producer's name; <paramref name="result"/> itself when it does not come from a bridge.</summary>
    /// <param name="result">A result of a gather on the far bus.</param>
    public static IReadOnlyList<GatherResult> Unpack(GatherResult result)
    {
        var results = new List<GatherResult>();
        GatherPacking.Unpack(result, results);
        return results;
    }

    internal void Report(SwitchboardException error) => Error?.Invoke(this, error);

    private static void Validate(IBus bus, IBus other, BridgeOptions options, string name)
    {
        if (ReferenceEquals(bus, other))
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, "A bus cannot be bridged to itself; give BridgeAsync two different buses.");
        }

        NameRules.ValidateSender(name);
        if (options.MaxHops < 1)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"BridgeOptions.MaxHops is {options.MaxHops}; it must be at least 1.");
        }

        if (options.RequestTimeout <= TimeSpan.Zero || options.GatherTtl <= TimeSpan.Zero || options.DrainTimeout < TimeSpan.Zero)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, "BridgeOptions.RequestTimeout and GatherTtl must be positive, DrainTimeout not negative.");
        }

        if (options.Outbound is null && options.Inbound is null)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, "The bridge forwards nothing: set BridgeOptions.Outbound, Inbound, or both.");
        }

        ValidateRoute(options.Outbound, nameof(BridgeOptions.Outbound));
        ValidateRoute(options.Inbound, nameof(BridgeOptions.Inbound));
    }

    private static void ValidateRoute(BridgeRoute? route, string which)
    {
        if (route is null)
        {
            return;
        }

        ArgumentNullException.ThrowIfNull(route.Events);
        ArgumentNullException.ThrowIfNull(route.RequestSenders);
        ArgumentNullException.ThrowIfNull(route.GatherTopics);
        if (route.NamePrefix is { } prefix)
        {
            NameRules.ValidateSender(prefix + "x"); // a prefix must keep every name one valid token
        }

        foreach (var topic in route.GatherTopics)
        {
            NameRules.ValidateTopic(topic);
        }

        if (route.Listener is { } listener)
        {
            listener.Validate();
            if (listener.MaxConcurrency != 1 || listener.BorrowData)
            {
                throw new SwitchboardException(ErrorCodes.InvalidArgument, $"BridgeOptions.{which}.Listener must keep MaxConcurrency 1 (a bridge keeps order) and BorrowData off (the far bus keeps forwarded data).");
            }
        }
    }

    /// <summary>Removes every listener, producer and mirror sender the bridge registered, on both buses.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var client in _clients)
        {
            if (client is not null)
            {
                client.Reconnected -= OnReconnected;
            }
        }

        foreach (var way in Ways())
        {
            await way.DisposeAsync();
        }
    }
}
