using System.Buffers;
using System.Text;

namespace Switchboard.LoadTest;

/// <summary>
/// Switchboard's JSON-lines gateway (docs/json-lines.md), by hand like <see cref="NatsCodec"/>: <c>hello</c>,
/// <c>sender</c>, <c>listen</c>, <c>trigger</c> (without an id: fire and forget), <c>ping</c>/<c>pong</c> out;
/// the hello's answer, <c>event</c>, <c>ping</c>, <c>pong</c> and errors in. Publish/subscribe only: the gateway's
/// requests (<c>request</c>/<c>respond</c>) are not part of the gateway scenarios. Payloads travel as JSON strings;
/// the benchmark's payloads are letters and digits, which need no escaping.
/// </summary>
internal sealed class JsonLinesCodec : WireCodec
{
    private static readonly byte[] DataKey = "\"data\":"u8.ToArray();

    public override BrokerKind Kind => BrokerKind.Switchboard;

    public override void WriteHandshake(IBufferWriter<byte> output, string clientName) =>
        Utf8(output, $"{{\"op\":\"hello\",\"client\":\"{clientName}\",\"heartbeat\":true}}\n");

    /// <summary>A ping with an id: its pong is the only pong this connection is sent with one.</summary>
    public override void WriteBarrier(IBufferWriter<byte> output) => output.Write("{\"op\":\"ping\",\"id\":\"barrier\"}\n"u8);

    /// <summary>Any line proves a connection alive; a pong is the one without an answer (which would look like a barrier).</summary>
    public override void WritePing(IBufferWriter<byte> output, ulong nonce) => output.Write("{\"op\":\"pong\"}\n"u8);

    public override void WritePong(IBufferWriter<byte> output, ulong nonce) => output.Write("{\"op\":\"pong\"}\n"u8);

    public override void WriteGoodbye(IBufferWriter<byte> output) => output.Write("{\"op\":\"bye\"}\n"u8);

    public override void WritePublisherSetup(IBufferWriter<byte> output, string publisher, IReadOnlyList<string> subjects) =>
        Utf8(output, $"{{\"op\":\"sender\",\"name\":\"{publisher}\",\"events\":[{string.Join(',', subjects.Select(s => $"\"{SwitchboardCodec.Channel(s)}\""))}]}}\n");

    public override void WriteSubscribe(IBufferWriter<byte> output, int sid, string subject) =>
        Utf8(output, $"{{\"op\":\"listen\",\"sender\":null,\"event\":\"{SwitchboardCodec.Channel(subject)}\",\"retained\":false,\"id\":\"L{sid}\"}}\n");

    public override void WritePublish(IBufferWriter<byte> output, string publisher, string subject, ReadOnlyMemory<byte> payload)
    {
        Utf8(output, $"{{\"op\":\"trigger\",\"sender\":\"{publisher}\",\"event\":\"{SwitchboardCodec.Channel(subject)}\",\"data\":\"");
        output.Write(payload.Span);
        output.Write("\"}\n"u8);
    }

    public override void WriteResponderSetup(IBufferWriter<byte> output, string service) => throw NotMeasured();

    public override void WriteRequesterSetup(IBufferWriter<byte> output, string inbox) => throw NotMeasured();

    public override void WriteRequest(IBufferWriter<byte> output, string service, uint id, ReadOnlyMemory<byte> payload) => throw NotMeasured();

    public override void WriteReply(IBufferWriter<byte> output, ReadOnlySpan<byte> replyTo, ReadOnlyMemory<byte> payload) => throw NotMeasured();

    public override int Parse(ReadOnlyMemory<byte> data, IWireEvents events)
    {
        var span = data.Span;
        var position = 0;
        while (position < span.Length)
        {
            var end = span[position..].IndexOf((byte)'\n');
            if (end < 0)
            {
                break;
            }

            Dispatch(span.Slice(position, end), events);
            position += end + 1;
        }

        return position;
    }

    private static void Dispatch(ReadOnlySpan<byte> line, IWireEvents events)
    {
        if (line.StartsWith("{\"op\":\"event\""u8))
        {
            events.OnMessage(1, DataOf(line));
        }
        else if (line.IndexOf("\"error\":"u8) >= 0)
        {
            events.OnError(Encoding.UTF8.GetString(line), fatal: false);
        }
        else if (line.IndexOf("\"op\":\"pong\""u8) >= 0)
        {
            events.OnBarrier();
        }
        else if (line.IndexOf("\"op\":\"ping\""u8) >= 0)
        {
            events.OnPing(0);
        }
        else if (line.IndexOf("\"server\":"u8) >= 0)
        {
            events.OnHandshake();
        }

        // Other answers ({"ok":true,...} to sender and listen): nothing to do; the barrier after them says they were processed.
    }

    /// <summary>An event line's data: the text of a JSON string without its quotes, or a JSON number as written.</summary>
    internal static ReadOnlySpan<byte> DataOf(ReadOnlySpan<byte> line)
    {
        var at = line.LastIndexOf(DataKey);
        if (at < 0)
        {
            return [];
        }

        var value = line[(at + DataKey.Length)..];
        if (value.Length > 0 && value[0] == (byte)'"')
        {
            value = value[1..];
            return value[..Math.Max(0, value.IndexOf((byte)'"'))];
        }

        var stop = value.IndexOfAny((byte)',', (byte)'}');
        return stop < 0 ? value : value[..stop];
    }

    private static InvalidOperationException NotMeasured() => new("The JSON-lines gateway is measured with publish/subscribe only (S1-S3, S9).");

    private static void Utf8(IBufferWriter<byte> output, string text)
    {
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        output.Advance(Encoding.UTF8.GetBytes(text, span));
    }
}
