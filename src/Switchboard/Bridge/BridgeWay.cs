namespace Switchboard.Bridge;

/// <summary>
/// One direction of a <see cref="BusBridge"/>, from an origin bus to a far bus. Split by concern:
/// this file (listeners and forwarding), <c>BridgeWay.Mirrors.cs</c> (the mirror senders and forwarded requests),
/// <c>BridgeWay.Presence.cs</c> (learning origin senders; resyncs), <c>BridgeWay.Gather.cs</c> (forwarded gathers).
/// </summary>
internal sealed partial class BridgeWay : IAsyncDisposable
{
    private readonly BusBridge _bridge;
    private readonly IBus _origin;
    private readonly IBus _far;
    private readonly BridgeRoute _route;
    private readonly BridgeLane[] _lanes;
    private readonly List<IAsyncDisposable> _registrations = [];
    private readonly CancellationTokenSource _stopping = new();
    private int _disposed;

    public BridgeWay(BusBridge bridge, BridgeDirection direction, IBus origin, IBus far, BridgeRoute route)
    {
        _bridge = bridge;
        Direction = direction;
        _origin = origin;
        _far = far;
        _route = route;
        _lanes = [.. route.Events.Select((filter, i) => new BridgeLane(filter, i))];
        Counters = new BridgeCounters(() => _lanes.Sum(l => l.Listener?.Dropped ?? 0));
        ProducerName = $"{bridge.Name}-{(direction == BridgeDirection.Outbound ? "out" : "in")}";
    }

    public BridgeDirection Direction { get; }

    public BridgeCounters Counters { get; }

    /// <summary>The name of this direction's gather producer on the far bus.</summary>
    public string ProducerName { get; }

    /// <summary>The other direction of the same bridge (its mirrors live on this direction's origin bus), if any.</summary>
    public BridgeWay? Reverse { get; set; }

    /// <summary>Registers the presence listeners, one listener per filter and the gather producer. Mirrors come with
    /// the first <see cref="ResyncAsync"/>.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _worker = RunPresenceAsync();
        await ListenPresenceAsync(cancellationToken);
        var options = _route.Listener ?? ListenerOptions.Default;
        foreach (var lane in _lanes)
        {
            lane.Listener = await _origin.ListenAsync(lane.Filter.Sender, lane.Filter.Event, (message, _) => HandleAsync(lane, message), options, cancellationToken);
            _registrations.Add(lane.Listener);
        }

        if (_route.GatherTopics.Count > 0)
        {
            _registrations.Add(await _far.AddProducerAsync(_route.GatherTopics, ProduceAsync, new ProducerOptions { Name = ProducerName }, cancellationToken));
        }
    }

    private async ValueTask HandleAsync(BridgeLane lane, BusMessage message)
    {
        lane.Begin();
        try
        {
            await ForwardAsync(lane, message);
        }
        finally
        {
            lane.End();
        }
    }

    private async ValueTask ForwardAsync(BridgeLane lane, BusMessage message)
    {
        if (NameRules.IsReserved(message.Event) || IsEarlierLanes(lane, message))
        {
            return; // presence is the bus's own; a message two filters match crosses once, through the first
        }

        if (IsOwnTraffic(message.Sender, message.Headers))
        {
            Counters.AddSkipped();
            return;
        }

        var mirror = await MirrorForAsync(message.Sender);
        if (mirror?.Sender is not { } sender)
        {
            Counters.AddUndelivered();
            return;
        }

        try
        {
            await sender.TriggerAsync(message.Event, message.Data, BridgeStamp.Stamp(message.Headers, message.Sender, _bridge.Name), cancellationToken: _stopping.Token);
            Counters.AddForwarded();
        }
        catch (Exception ex) when (ex is SwitchboardException or ObjectDisposedException or OperationCanceledException)
        {
            Counters.AddUndelivered();
            if (!_stopping.IsCancellationRequested)
            {
                Fail($"could not forward '{message.Event}' from '{message.Sender}' through its mirror '{mirror.FarName}'", ex);
            }
        }
    }

    private bool IsEarlierLanes(BridgeLane lane, BusMessage message)
    {
        for (var i = 0; i < lane.Index; i++)
        {
            if (_lanes[i].Filter.Matches(message.Sender, message.Event))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Loop prevention: a message is this bridge's own when the bus stamped one of the reverse direction's
    /// mirror senders on it (those names are this bridge's on this bus; the bus stamps senders, so it cannot be forged),
    /// when its <see cref="BridgeHeaders.Via"/> names this bridge, or when it crossed too many bridges.</summary>
    private bool IsOwnTraffic(string sender, MessageHeaders headers) =>
        Reverse?.OwnsName(sender) == true
        || BridgeStamp.Crossed(headers, _bridge.Name)
        || BridgeStamp.Hops(headers) >= _bridge.Options.MaxHops;

    private void Fail(string what, Exception error)
    {
        Counters.AddError();
        var code = error is SwitchboardException s ? s.Code : ErrorCodes.Closed;
        _bridge.Report(new SwitchboardException(code, $"Bridge '{_bridge.Name}' ({Direction}) {what}: {error.Message}", error));
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        foreach (var registration in _registrations)
        {
            await registration.DisposeAsync();
        }

        _presence.Writer.TryComplete();
        await _worker.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await RetireAllAsync();
        _stopping.Dispose();
    }
}
