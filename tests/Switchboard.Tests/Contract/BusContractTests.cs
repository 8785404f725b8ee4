using Switchboard.Tests.Support;

namespace Switchboard.Tests.Contract;

/// <summary>
/// The contract every bus keeps: one test per row of DESIGN.md's Concepts and "Who receives what" tables and per
/// in-process guarantee. Each kind of bus (local, TCP, Unix socket, WebSocket, cluster) inherits this class and
/// only says how to make participants of one bus and how to kill one uncleanly.
/// </summary>
public abstract partial class BusContractTests : IAsyncLifetime
{
    private readonly List<IBus> _buses = [];
    private readonly HashSet<IBus> _dead = [];

    /// <summary>A new participant on the bus under test (the first call creates the bus).</summary>
    protected abstract Task<IBus> CreateBusAsync();

    /// <summary>Ends a participant as if its process or connection died, without closing anything.</summary>
    protected abstract Task AbortAsync(IBus bus);

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected async Task<IBus> NewBusAsync()
    {
        var bus = await CreateBusAsync();
        _buses.Add(bus);
        return bus;
    }

    protected async Task KillAsync(IBus bus)
    {
        _dead.Add(bus);
        await AbortAsync(bus);
    }

    /// <summary>
    /// Returns once everything triggered so far by every participant has been delivered to <paramref name="listening"/>:
    /// each participant triggers a marker after its earlier messages, and order per sender and connection carries the rest.
    /// Used before asserting that something did <em>not</em> arrive.
    /// </summary>
    protected async Task SettleAsync(IBus listening)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var marker = "#settle." + id;
        await using var markers = await listening.ListenAsync(null, marker, cancellationToken: Ct);
        var live = _buses.Where(b => !_dead.Contains(b)).ToList();
        var senders = new List<ISender>();
        for (var i = 0; i < live.Count; i++)
        {
            await live[i].FlushAsync(Ct);
            senders.Add(await live[i].AddSenderAsync($"settle-{id}-{i}", [marker], cancellationToken: Ct));
        }

        foreach (var sender in senders)
        {
            await sender.TriggerAsync(marker, cancellationToken: Ct);
        }

        for (var i = 0; i < senders.Count; i++)
        {
            await markers.NextAsync();
        }

        foreach (var sender in senders)
        {
            await sender.DisposeAsync();
        }
    }

    /// <summary>Reads what the queue holds now, after <see cref="SettleAsync"/>, leaving presence noise out.</summary>
    protected static List<BusMessage> Drain(IListenerQueue queue)
    {
        var messages = new List<BusMessage>();
        while (queue.TryRead(out var message))
        {
            if (!message.Sender.StartsWith("settle-", StringComparison.Ordinal) && !message.Event.StartsWith("#settle.", StringComparison.Ordinal))
            {
                messages.Add(message);
            }
        }

        return messages;
    }

    protected static string Describe(IEnumerable<BusMessage> messages) =>
        string.Join(", ", messages.Select(m => $"{m.Sender}/{m.Event}={m.Data}"));

    public ValueTask InitializeAsync() => default;

    public virtual async ValueTask DisposeAsync()
    {
        for (var i = _buses.Count - 1; i >= 0; i--)
        {
            await _buses[i].DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }
}
