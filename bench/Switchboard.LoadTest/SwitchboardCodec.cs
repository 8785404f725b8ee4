using System.Buffers;
using System.Buffers.Binary;
using Switchboard.Wire;

namespace Switchboard.LoadTest;

/// <summary>Switchboard's binary protocol through the library's own encoders (<see cref="Frames"/>) and parser (<see cref="FrameParser"/>).</summary>
internal sealed class SwitchboardCodec : WireCodec
{
    /// <summary>The FLUSH correlation used as a barrier; the OKs of other frames are ignored.</summary>
    private const uint BarrierCorrelation = 0xFFFF_FFF0;

    /// <summary>The request name every responder declares.</summary>
    private const string RequestName = "echo";

    private readonly FrameParser _parser = new();

    public override BrokerKind Kind => BrokerKind.Switchboard;

    public static string Channel(string subject) => "#" + subject;

    public override void WriteHandshake(IBufferWriter<byte> output, string clientName) =>
        Frames.Hello(output, crc: false, Protocol.Version, clientName, credentials: null, features: 0, heartbeatMs: 5000);

    public override void WriteBarrier(IBufferWriter<byte> output) =>
        Frames.Correlated(output, crc: false, FrameType.Flush, BarrierCorrelation);

    public override void WritePing(IBufferWriter<byte> output, ulong nonce) =>
        Frames.PingPong(output, crc: false, FrameType.Ping, nonce);

    public override void WritePong(IBufferWriter<byte> output, ulong nonce) =>
        Frames.PingPong(output, crc: false, FrameType.Pong, nonce);

    public override void WriteGoodbye(IBufferWriter<byte> output) => Frames.Goodbye(output, crc: false);

    public override void WritePublisherSetup(IBufferWriter<byte> output, string publisher, IReadOnlyList<string> subjects) =>
        Frames.AddSender(output, crc: false, correlation: 1, publisher, subjects.Select(Channel).ToArray(), [], hasDefault: false, willEvent: null, willData: default);

    public override void WriteSubscribe(IBufferWriter<byte> output, int sid, string subject) =>
        Frames.Listen(output, crc: false, correlation: (uint)sid, subscription: (uint)sid, sender: null, pattern: Channel(subject), group: null, retained: false);

    public override void WritePublish(IBufferWriter<byte> output, string publisher, string subject, ReadOnlyMemory<byte> payload) =>
        Frames.Trigger(output, crc: false, publisher, Channel(subject), flags: 0, headers: null, new Payload(payload));

    public override void WriteResponderSetup(IBufferWriter<byte> output, string service) =>
        Frames.AddSender(output, crc: false, correlation: 1, service, [], [RequestName], hasDefault: false, willEvent: null, willData: default);

    public override void WriteRequesterSetup(IBufferWriter<byte> output, string inbox)
    {
        // Replies come back on the asking connection by request id: nothing to set up.
    }

    public override void WriteRequest(IBufferWriter<byte> output, string service, uint id, ReadOnlyMemory<byte> payload) =>
        Frames.Request(output, crc: false, id, service, RequestName, timeoutMs: 10_000, headers: null, new Payload(payload));

    public override void WriteReply(IBufferWriter<byte> output, ReadOnlySpan<byte> replyTo, ReadOnlyMemory<byte> payload) =>
        Frames.Reply(output, crc: false, BinaryPrimitives.ReadUInt32LittleEndian(replyTo), errorCode: null, errorMessage: null, new Payload(payload));

    public override int Parse(ReadOnlyMemory<byte> data, IWireEvents events)
    {
        var buffer = new ReadOnlySequence<byte>(data);
        Span<byte> replyTo = stackalloc byte[4];
        while (_parser.TryRead(ref buffer, out var type, out var body))
        {
            var r = new SpanReader(body, type);
            switch (type)
            {
                case FrameType.Event:
                {
                    var subscription = r.U32("subscription");
                    r.StringBytes("sender");
                    r.StringBytes("event");
                    SkipHeaders(ref r);
                    events.OnMessage((int)subscription, r.PayloadBytes("data"));
                    break;
                }

                case FrameType.RequestIn:
                {
                    var id = r.U32("id");
                    r.StringBytes("sender");
                    r.StringBytes("request");
                    SkipHeaders(ref r);
                    var length = r.PayloadBytes("data").Length;
                    BinaryPrimitives.WriteUInt32LittleEndian(replyTo, id);
                    events.OnRequest(replyTo, length);
                    break;
                }

                case FrameType.Reply:
                {
                    var id = r.U32("id");
                    var status = r.U8("status");
                    var code = r.String("code");
                    var message = r.String("message");
                    if (status != Protocol.ReplyOk)
                    {
                        events.OnError($"request {id} failed: {code}: {message}", fatal: false);
                    }

                    events.OnReply(id, status == Protocol.ReplyOk);
                    break;
                }

                case FrameType.Ok:
                    if (r.U32("correlation") == BarrierCorrelation)
                    {
                        events.OnBarrier();
                    }

                    break;
                case FrameType.Error:
                {
                    r.U32("correlation");
                    var fatal = r.U8("fatal") != 0;
                    var code = r.String("code");
                    var message = r.String("message");
                    events.OnError($"{code}: {message}", fatal);
                    break;
                }

                case FrameType.Ping:
                    events.OnPing(r.U64("nonce"));
                    break;
                case FrameType.Welcome:
                    events.OnHandshake();
                    break;
                case FrameType.GoingAway:
                    events.OnError("going away: " + r.String("reason"), fatal: true);
                    break;
                default:
                    break; // PONG and frames no scenario asks for
            }
        }

        return data.Length - (int)buffer.Length;
    }

    private static void SkipHeaders(ref SpanReader r)
    {
        var count = r.U16("headers");
        for (var i = 0; i < count; i++)
        {
            r.StringBytes("header name");
            r.StringBytes("header value");
        }
    }
}
