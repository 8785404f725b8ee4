using Switchboard.Routing;
using Switchboard.Wire;

namespace Switchboard.Server;

/// <summary>
/// A client's listener as the router sees it: delivering encodes an EVENT frame straight into the connection's
/// outbound buffer (no queue of its own, no allocation). The buffer's byte bound is the connection's slow-consumer limit.
/// </summary>
internal sealed class RemoteSubscription : Subscription
{
    private readonly BrokerConnection _connection;
    private int _closed;

    public RemoteSubscription(BrokerConnection connection, uint id, string? sender, string? pattern, string? group)
        : base(sender, pattern, group)
    {
        _connection = connection;
        Id = id;
    }

    public uint Id { get; }

    public override ValueTask DeliverAsync(in BusMessage message)
    {
        var output = _connection.Outbound;
        lock (output.Sync)
        {
            if (Volatile.Read(ref _closed) == 0 && !output.IsCompleted)
            {
                if (output.IsFull)
                {
                    _connection.OnOutboundFull();
                    return default;
                }

                Frames.Event(output.Writer, _connection.Crc, Id, message.Sender, message.Event, message.Headers, message.Data);
                output.Commit();
                _connection.CountOut();
            }
        }

        return default;
    }

    public override async ValueTask CloseAsync(Exception? error)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        if (Unregister is { } unregister)
        {
            await unregister(this);
        }
    }
}
