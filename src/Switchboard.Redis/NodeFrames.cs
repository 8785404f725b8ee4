using System.Buffers;
using Switchboard.Wire;

namespace Switchboard.Redis;

/// <summary>
/// What nodes say to each other. A node link speaks the binary protocol's own frames where one fits (EVENT, ADD_SENDER,
/// LISTEN, UNLISTEN, REQUEST, REPLY, OK; docs/protocol.md), plus the few below, in the range 0x40 to 0x4F that clients
/// never use. One Redis PUBLISH to a node's inbox is a <see cref="Batch"/> frame followed by frames in order.
/// The control channel carries HELLO (client = the member, features = <see cref="HelloResync"/>) and GOING_AWAY
/// (reason = the member leaving cleanly). Layouts in docs/cluster.md.
/// </summary>
internal static class NodeFrames
{
    /// <summary>BATCH: str member (who publishes), u64 sequence (per destination, from 1: a gap means lost batches).</summary>
    public const FrameType Batch = (FrameType)0x40;

    /// <summary>STATE_BEGIN: u8 reply (1: answer with your own state). The origin's whole state follows (ADD_SENDER and
    /// LISTEN frames), then <see cref="StateEnd"/>: what it does not name again is gone.</summary>
    public const FrameType StateBegin = (FrameType)0x41;

    /// <summary>STATE_END: no body.</summary>
    public const FrameType StateEnd = (FrameType)0x42;

    /// <summary>SENDER_GONE: u32 correlation (0: no OK wanted), str name, u8 reason (<see cref="DisconnectReason"/>).</summary>
    public const FrameType SenderGone = (FrameType)0x43;

    /// <summary>CANCEL: u32 request id: the asker stopped waiting (timeout, cancelled); the owner stops its request.</summary>
    public const FrameType Cancel = (FrameType)0x44;

    /// <summary>RETAIN: the layout of EVENT (u32 0, str sender, str event, headers, payload): keep it as the event's
    /// retained value (an empty payload clears it). Sent to every node, whatever its interest.</summary>
    public const FrameType Retain = (FrameType)0x45;

    /// <summary>An EVENT-shaped frame of <paramref name="type"/> (<see cref="Retain"/>, <see cref="Result"/>).</summary>
    public static void WriteMessage(IBufferWriter<byte> output, FrameType type, in BusMessage m)
    {
        var w = SpanWriter.Begin(output, type, 4 + SpanWriter.SizeOf(m.Sender) + SpanWriter.SizeOf(m.Event) + SpanWriter.SizeOf(m.Headers) + SpanWriter.SizeOf(m.Data), crc: false);
        w.U32(0);
        w.String(m.Sender);
        w.String(m.Event);
        w.Headers(m.Headers);
        w.Payload(m.Data);
        w.End(output);
    }

    /// <summary>RESULT_INTEREST: u8 add (1) or remove (0), str topic: the node has (or no longer has) gather result
    /// listeners for the topic.</summary>
    public const FrameType ResultInterest = (FrameType)0x46;

    /// <summary>RESULT: the layout of EVENT (u32 0, str producer, str topic, headers, payload): one result of a gather
    /// on the sending node, for this node's result listeners of the topic.</summary>
    public const FrameType Result = (FrameType)0x47;

    /// <summary>RETAINED_ASK (empty): the sender of this frame has all of this node's senders mirrored (its state
    /// ended) and asks for their retained values; they come back as <see cref="Retain"/> frames, in order with later ones.</summary>
    public const FrameType RetainedAsk = (FrameType)0x49;

    public static void WriteRetainedAsk(IBufferWriter<byte> output) => SpanWriter.Begin(output, RetainedAsk, 0, crc: false).End(output);

    public static void WriteResultInterest(IBufferWriter<byte> output, bool add, string topic)
    {
        var w = SpanWriter.Begin(output, ResultInterest, 1 + SpanWriter.SizeOf(topic), crc: false);
        w.U8(add ? (byte)1 : (byte)0);
        w.String(topic);
        w.End(output);
    }

    /// <summary>PROBE: u64 nonce; a node publishes it to its own inbox (after a BATCH naming itself) to learn that its
    /// subscription still delivers.</summary>
    public const FrameType Probe = (FrameType)0x48;

    public static void WriteProbe(IBufferWriter<byte> output, ulong nonce)
    {
        var w = SpanWriter.Begin(output, Probe, 8, crc: false);
        w.U64(nonce);
        w.End(output);
    }

    /// <summary>HELLO's feature flag: the member (re)joined and wants every node's state.</summary>
    public const uint HelloResync = 1;

    public static void WriteBatch(IBufferWriter<byte> output, string member, ulong sequence)
    {
        var w = SpanWriter.Begin(output, Batch, SpanWriter.SizeOf(member) + 8, crc: false);
        w.String(member);
        w.U64(sequence);
        w.End(output);
    }

    public static void WriteStateBegin(IBufferWriter<byte> output, bool reply)
    {
        var w = SpanWriter.Begin(output, StateBegin, 1, crc: false);
        w.U8(reply ? (byte)1 : (byte)0);
        w.End(output);
    }

    public static void WriteStateEnd(IBufferWriter<byte> output) => SpanWriter.Begin(output, StateEnd, 0, crc: false).End(output);

    public static void WriteSenderGone(IBufferWriter<byte> output, uint correlation, string name, DisconnectReason reason)
    {
        var w = SpanWriter.Begin(output, SenderGone, 4 + SpanWriter.SizeOf(name) + 1, crc: false);
        w.U32(correlation);
        w.String(name);
        w.U8((byte)reason);
        w.End(output);
    }

    public static void WriteCancel(IBufferWriter<byte> output, uint id)
    {
        var w = SpanWriter.Begin(output, Cancel, 4, crc: false);
        w.U32(id);
        w.End(output);
    }
}
