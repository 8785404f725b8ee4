using Switchboard.Wire;

namespace Switchboard.Server;

/// <summary>
/// A client's listener as the router sees it: delivering encodes an EVENT frame straight into the connection's
/// outbound buffer (no queue of its own, no allocation). The buffer's byte bound is the connection's slow-consumer limit.
/// </summary>
internal sealed class RemoteSubscription : PeerSubscription
{
    private readonly BinaryPeer _connection;

    public RemoteSubscription(BinaryPeer connection, uint id, string? sender, string? pattern, string? group)
        : base(sender, pattern, group)
    {
        _connection = connection;
        Id = id;
    }

    public uint Id { get; }

    public override ValueTask DeliverAsync(in BusMessage message)
    {
        if (IsClosed)
        {
            return default;
        }

        var outcome = _connection.Writer.WriteBounded((Id, message), static (output, crc, in e) =>
            Frames.Event(output, crc, e.Id, e.message.Sender, e.message.Event, e.message.Headers, e.message.Data), countAsMessage: true);
        if (outcome == WriteOutcome.Full)
        {
            _connection.OnOutboundFull();
        }
        else if (outcome == WriteOutcome.TooLarge)
        {
            _connection.OnTooLargeForPeer();
        }

        return default;
    }
}
