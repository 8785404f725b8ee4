using Switchboard.Routing;
using Switchboard.Wire;

namespace Switchboard.Server;

/// <summary>
/// A client's listener as the router sees it: delivering encodes an EVENT frame straight into the connection's
/// outbound buffer (no queue of its own, no allocation). The buffer's byte bound is the connection's slow-consumer limit.
/// </summary>
internal sealed class RemoteSubscription : Subscription
{
    private readonly BinaryPeer _connection;
    private int _closed;

    public RemoteSubscription(BinaryPeer connection, uint id, string? sender, string? pattern, string? group)
        : base(sender, pattern, group)
    {
        _connection = connection;
        Id = id;
    }

    public uint Id { get; }

    public override ValueTask DeliverAsync(in BusMessage message)
    {
        if (Volatile.Read(ref _closed) != 0)
        {
            return default;
        }

        var outcome = _connection.Writer.WriteBounded((Id, message), static (output, crc, in e) =>
            Frames.Event(output, crc, e.Id, e.message.Sender, e.message.Event, e.message.Headers, e.message.Data), countAsMessage: true);
        if (outcome == WriteOutcome.Full)
        {
            _connection.OnOutboundFull();
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
