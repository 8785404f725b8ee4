using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Switchboard.LoadTest;

/// <summary>
/// The minimal NATS text protocol, by hand: CONNECT, PUB, SUB, PING/PONG out; INFO, MSG, PING/PONG, +OK, -ERR in.
/// Requests use one wildcard inbox subscription per requester and a reply subject per request (<c>INBOX.id</c>),
/// as the NATS clients do.
/// </summary>
internal sealed class NatsCodec : WireCodec
{
    private static readonly byte[] Crlf = "\r\n"u8.ToArray();
    private byte[] _inboxPrefix = [];

    public override BrokerKind Kind => BrokerKind.Nats;

    public override void WriteHandshake(IBufferWriter<byte> output, string clientName) =>
        Ascii(output, "CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false}\r\n");

    public override void WriteBarrier(IBufferWriter<byte> output) => output.Write("PING\r\n"u8);

    public override void WritePing(IBufferWriter<byte> output, ulong nonce) => output.Write("PING\r\n"u8);

    public override void WritePong(IBufferWriter<byte> output, ulong nonce) => output.Write("PONG\r\n"u8);

    public override void WriteGoodbye(IBufferWriter<byte> output)
    {
        // NATS has no goodbye: closing the socket is the clean leave.
    }

    public override void WritePublisherSetup(IBufferWriter<byte> output, string publisher, IReadOnlyList<string> subjects)
    {
        // A NATS publisher declares nothing.
    }

    public override void WriteSubscribe(IBufferWriter<byte> output, int sid, string subject)
    {
        Ascii(output, "SUB ");
        Ascii(output, subject);
        output.Write(" "u8);
        Number(output, (uint)sid);
        output.Write(Crlf);
    }

    public override void WritePublish(IBufferWriter<byte> output, string publisher, string subject, ReadOnlyMemory<byte> payload)
    {
        Ascii(output, "PUB ");
        Ascii(output, subject);
        output.Write(" "u8);
        Number(output, (uint)payload.Length);
        output.Write(Crlf);
        output.Write(payload.Span);
        output.Write(Crlf);
    }

    public override void WriteResponderSetup(IBufferWriter<byte> output, string service) => WriteSubscribe(output, 1, service);

    public override void WriteRequesterSetup(IBufferWriter<byte> output, string inbox)
    {
        _inboxPrefix = Encoding.ASCII.GetBytes(inbox + ".");
        WriteSubscribe(output, 1, inbox + ".*");
    }

    public override void WriteRequest(IBufferWriter<byte> output, string service, uint id, ReadOnlyMemory<byte> payload)
    {
        Ascii(output, "PUB ");
        Ascii(output, service);
        output.Write(" "u8);
        output.Write(_inboxPrefix);
        Number(output, id);
        output.Write(" "u8);
        Number(output, (uint)payload.Length);
        output.Write(Crlf);
        output.Write(payload.Span);
        output.Write(Crlf);
    }

    public override void WriteReply(IBufferWriter<byte> output, ReadOnlySpan<byte> replyTo, ReadOnlyMemory<byte> payload)
    {
        output.Write("PUB "u8);
        output.Write(replyTo);
        output.Write(" "u8);
        Number(output, (uint)payload.Length);
        output.Write(Crlf);
        output.Write(payload.Span);
        output.Write(Crlf);
    }

    public override int Parse(ReadOnlyMemory<byte> data, IWireEvents events)
    {
        var span = data.Span;
        var position = 0;
        Span<Range> parts = stackalloc Range[5];
        while (position < span.Length)
        {
            var rest = span[position..];
            var end = rest.IndexOf("\r\n"u8);
            if (end < 0)
            {
                if (rest.Length > 64 * 1024)
                {
                    throw new InvalidDataException("NATS: a protocol line longer than 64 KiB.");
                }

                break;
            }

            var line = rest[..end];
            if (line.StartsWith("MSG "u8))
            {
                // MSG <subject> <sid> [reply-to] <#bytes>
                var args = line[4..];
                var count = SplitSpaces(args, parts);
                if (count is not (3 or 4))
                {
                    throw new InvalidDataException("NATS: malformed MSG line: " + Encoding.ASCII.GetString(line));
                }

                var length = ParseInt(args[parts[count - 1]]);
                var total = end + 2 + length + 2;
                if (rest.Length < total)
                {
                    break; // the payload is not all here yet
                }

                var subject = args[parts[0]];
                if (count == 4)
                {
                    events.OnRequest(args[parts[2]], length);
                }
                else if (_inboxPrefix.Length > 0 && subject.StartsWith(_inboxPrefix))
                {
                    events.OnReply((uint)ParseInt(subject[_inboxPrefix.Length..]), ok: true);
                }
                else
                {
                    events.OnMessage(ParseInt(args[parts[1]]), rest.Slice(end + 2, length));
                }

                position += total;
                continue;
            }

            if (line.SequenceEqual("PING"u8))
            {
                events.OnPing(0);
            }
            else if (line.SequenceEqual("PONG"u8))
            {
                events.OnBarrier();
            }
            else if (line.StartsWith("INFO"u8))
            {
                events.OnHandshake();
            }
            else if (line.StartsWith("-ERR"u8))
            {
                var text = Encoding.ASCII.GetString(line);
                // Server errors that close the connection; the others (permissions) leave it open.
                var fatal = !text.Contains("Permissions", StringComparison.OrdinalIgnoreCase);
                events.OnError(text, fatal);
            }

            // +OK and anything else: nothing to do.
            position += end + 2;
        }

        return position;
    }

    /// <summary>Splits on spaces and tabs into at most <paramref name="parts"/>.Length ranges; returns how many (one more than fits: malformed).</summary>
    private static int SplitSpaces(ReadOnlySpan<byte> text, Span<Range> parts)
    {
        var count = 0;
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && text[i] is (byte)' ' or (byte)'\t')
            {
                i++;
            }

            if (i == text.Length)
            {
                break;
            }

            var start = i;
            while (i < text.Length && text[i] is not ((byte)' ' or (byte)'\t'))
            {
                i++;
            }

            if (count == parts.Length)
            {
                return count + 1;
            }

            parts[count++] = new Range(start, i);
        }

        return count;
    }

    private static int ParseInt(ReadOnlySpan<byte> digits) =>
        Utf8Parser.TryParse(digits, out int value, out var consumed) && consumed == digits.Length && value >= 0
            ? value
            : throw new InvalidDataException("NATS: not a number: " + Encoding.ASCII.GetString(digits));

    private static void Number(IBufferWriter<byte> output, uint value)
    {
        var span = output.GetSpan(10);
        Utf8Formatter.TryFormat(value, span, out var written);
        output.Advance(written);
    }

    private static void Ascii(IBufferWriter<byte> output, string text)
    {
        var span = output.GetSpan(text.Length);
        var written = Encoding.ASCII.GetBytes(text, span);
        output.Advance(written);
    }
}
