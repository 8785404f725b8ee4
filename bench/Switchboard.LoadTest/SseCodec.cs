using System.Buffers;
using System.Text;

namespace Switchboard.LoadTest;

/// <summary>
/// An SSE subscriber of Switchboard's HTTP gateway (docs/http-gateway.md): subscribing is the request
/// <c>GET /events?event=%23SUBJECT</c> (HTTP/1.0, so the stream comes without chunked framing), and the response's
/// header block is the barrier that says the stream is open. Each <c>data:</c> line is one delivery; its payload is
/// the inner <c>data</c> of <c>{"sender":...,"event":...,"data":...}</c>. A subscriber only: an SSE client sends
/// nothing after its request, so the publisher of an SSE target speaks the binary protocol over <c>/ws</c>.
/// </summary>
internal sealed class SseCodec : WireCodec
{
    private bool _headersDone;

    public override BrokerKind Kind => BrokerKind.Switchboard;

    /// <summary>Nothing: the request itself is the subscription (<see cref="WriteSubscribe"/>).</summary>
    public override void WriteHandshake(IBufferWriter<byte> output, string clientName)
    {
    }

    /// <summary>Nothing: the response's headers answer the request.</summary>
    public override void WriteBarrier(IBufferWriter<byte> output)
    {
    }

    /// <summary>Nothing: the gateway keeps a quiet stream alive itself (<c>: keep-alive</c>).</summary>
    public override void WritePing(IBufferWriter<byte> output, ulong nonce)
    {
    }

    public override void WritePong(IBufferWriter<byte> output, ulong nonce)
    {
    }

    public override void WriteGoodbye(IBufferWriter<byte> output)
    {
    }

    public override void WritePublisherSetup(IBufferWriter<byte> output, string publisher, IReadOnlyList<string> subjects) => throw SubscriberOnly();

    public override void WriteSubscribe(IBufferWriter<byte> output, int sid, string subject)
    {
        var request = $"GET /events?event=%23{Uri.EscapeDataString(subject)} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
        var span = output.GetSpan(request.Length);
        output.Advance(Encoding.ASCII.GetBytes(request, span));
    }

    public override void WritePublish(IBufferWriter<byte> output, string publisher, string subject, ReadOnlyMemory<byte> payload) => throw SubscriberOnly();

    public override void WriteResponderSetup(IBufferWriter<byte> output, string service) => throw SubscriberOnly();

    public override void WriteRequesterSetup(IBufferWriter<byte> output, string inbox) => throw SubscriberOnly();

    public override void WriteRequest(IBufferWriter<byte> output, string service, uint id, ReadOnlyMemory<byte> payload) => throw SubscriberOnly();

    public override void WriteReply(IBufferWriter<byte> output, ReadOnlySpan<byte> replyTo, ReadOnlyMemory<byte> payload) => throw SubscriberOnly();

    public override int Parse(ReadOnlyMemory<byte> data, IWireEvents events)
    {
        var span = data.Span;
        var position = 0;
        if (!_headersDone)
        {
            var end = span.IndexOf("\r\n\r\n"u8);
            if (end < 0)
            {
                return 0;
            }

            var status = span[..Math.Max(0, span.IndexOf("\r\n"u8))];
            if (status.IndexOf(" 200 "u8) < 0)
            {
                events.OnError("GET /events: " + Encoding.ASCII.GetString(span[..end]), fatal: true);
            }

            _headersDone = true;
            events.OnHandshake();
            events.OnBarrier();
            position = end + 4;
        }

        while (position < span.Length)
        {
            var end = span[position..].IndexOf((byte)'\n');
            if (end < 0)
            {
                break;
            }

            var line = span.Slice(position, end);
            if (line.StartsWith("data: "u8))
            {
                events.OnMessage(1, JsonLinesCodec.DataOf(line));
            }

            // id:, event:, retry:, comments and the blank line ending each event: nothing to do.
            position += end + 1;
        }

        return position;
    }

    private static InvalidOperationException SubscriberOnly() => new("An SSE connection only subscribes; an SSE target publishes over /ws.");
}
