using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Switchboard.Routing;

/// <summary>
/// The one core behind every bus: senders, listeners, requests, gathers, presence and retained values.
/// <see cref="LocalBus"/> is a router with one in-process session; the broker is the same router with one session
/// per network connection. Split by concern into partial files.
/// </summary>
internal sealed partial class Router : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<string, SenderRegistration> _senders = new(StringComparer.Ordinal);
    private readonly HashSet<RouterSession> _sessions = [];
    private readonly RetainedStore _retained;
    private int _disposed;

    public Router(BusOptions? options = null)
    {
        Options = options ?? BusOptions.Default;
        _retained = new RetainedStore(Options);
        Log = Options.LoggerFactory.CreateLogger("Switchboard.Router");
    }

    public BusOptions Options { get; }

    public TimeProvider Time => Options.TimeProvider;

    public BusCounters Counters { get; } = new();

    public ILogger Log { get; }

    /// <summary>A cluster of brokers plugged in (see <see cref="IRouterCluster"/>); null on a broker alone and in a
    /// <see cref="LocalBus"/>. Set once, before any client connects.</summary>
    public IRouterCluster? Cluster { get; set; }

    /// <summary>The listener registrations, keyed by (sender or any, pattern or any).</summary>
    public RoutingIndex<DeliveryTarget> Listeners { get; } = new();

    public RouterSession OpenSession(string name)
    {
        var session = new RouterSession(name);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            _sessions.Add(session);
        }

        return session;
    }

    /// <summary>Removes everything <paramref name="session"/> registered. An unclean close triggers its senders' last wills.</summary>
    public async ValueTask CloseSessionAsync(RouterSession session, bool clean)
    {
        lock (_lock)
        {
            _sessions.Remove(session);
        }

        foreach (var registration in session.Close())
        {
            switch (registration)
            {
                case SenderRegistration sender:
                    await RemoveSenderAsync(sender, clean ? DisconnectReason.Closed : DisconnectReason.ConnectionLost);
                    break;
                case Subscription subscription:
                    await subscription.CloseAsync(null);
                    break;
                case ProducerRegistration producer:
                    RemoveProducer(producer);
                    break;
            }
        }
    }

    /// <summary>Delivers a message to every matching target, outside any sender's cached slot.</summary>
    public ValueTask DeliverAsync(BusMessage message)
    {
        var targets = Listeners.Lookup(message.Sender, message.Event);
        for (var i = 0; i < targets.Length; i++)
        {
            var pending = targets[i].DeliverAsync(message);
            if (!pending.IsCompletedSuccessfully)
            {
                return EventSlot.DeliverRestAsync(pending, targets, i + 1, message);
            }
        }

        return default;
    }

    public async ValueTask DisposeAsync()
    {
        RouterSession[] sessions;
        lock (_lock)
        {
            if (_disposed != 0)
            {
                return;
            }

            _disposed = 1;
            sessions = [.. _sessions];
        }

        foreach (var session in sessions)
        {
            await CloseSessionAsync(session, clean: true);
        }
    }
}
