using System.Buffers.Binary;
using System.Text;

namespace Switchboard.Wire;

/// <summary>Reads the fields of one frame body; every read checks the bytes are there and names the field when not.</summary>
public ref struct SpanReader
{
    private readonly ReadOnlySpan<byte> _body;
    private readonly FrameType _type;
    private int _position;

    /// <summary>Reads <paramref name="body"/> of a <paramref name="type"/> frame.</summary>
    public SpanReader(ReadOnlySpan<byte> body, FrameType type)
    {
        _body = body;
        _type = type;
        _position = 0;
    }

    /// <summary>Bytes not read yet.</summary>
    public readonly int Remaining => _body.Length - _position;

    /// <summary>Reads a byte.</summary>
    public byte U8(string field) => Take(1, field)[0];

    /// <summary>Reads a little-endian u16.</summary>
    public ushort U16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, field));

    /// <summary>Reads a little-endian u32.</summary>
    public uint U32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, field));

    /// <summary>Reads a little-endian u64.</summary>
    public ulong U64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, field));

    /// <summary>Reads a string field's UTF-8 bytes without decoding them.</summary>
    public ReadOnlySpan<byte> StringBytes(string field) => Take(U16(field), field);

    /// <summary>Reads a string; empty becomes null when <paramref name="emptyIsNull"/>.</summary>
    public string? String(string field, bool emptyIsNull = false)
    {
        var bytes = StringBytes(field);
        if (bytes.IsEmpty)
        {
            return emptyIsNull ? null : string.Empty;
        }

        try
        {
            return Utf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new ProtocolException(ErrorCodes.MalformedFrame, $"{_type} frame: the {field} field is not valid UTF-8.");
        }
    }

    /// <summary>Reads a non-empty string.</summary>
    public string RequiredString(string field) =>
        String(field) is { Length: > 0 } value
            ? value
            : throw new ProtocolException(ErrorCodes.MalformedFrame, $"{_type} frame: the {field} field is empty.");

    /// <summary>Reads a non-empty string through <paramref name="names"/>, so a name seen before costs no allocation;
    /// invalid UTF-8 is refused as <see cref="String"/> refuses it.</summary>
    public string RequiredName(string field, NameCache names)
    {
        var bytes = StringBytes(field);
        if (bytes.IsEmpty)
        {
            throw new ProtocolException(ErrorCodes.MalformedFrame, $"{_type} frame: the {field} field is empty.");
        }

        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            throw new ProtocolException(ErrorCodes.MalformedFrame, $"{_type} frame: the {field} field is not valid UTF-8.");
        }

        return names.Get(bytes);
    }

    /// <summary>Reads a payload's bytes (a view into the frame; copy before keeping).</summary>
    public ReadOnlySpan<byte> PayloadBytes(string field)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(Take(4, field));
        if (length < 0)
        {
            throw new ProtocolException(ErrorCodes.MalformedFrame, $"{_type} frame: the {field} length is negative ({length}).");
        }

        return Take(length, field);
    }

    /// <summary>Reads a payload lent from <paramref name="frame"/> (the memory this reader reads): no copy, valid only
    /// while the frame is; whoever keeps it copies it (<see cref="Payload.Detach"/>).</summary>
    public Payload LentPayload(string field, ReadOnlyMemory<byte> frame)
    {
        var bytes = PayloadBytes(field);
        return bytes.IsEmpty ? default : new Payload(frame.Slice(_position - bytes.Length, bytes.Length));
    }

    /// <summary>Reads a payload into new memory.</summary>
    public Payload Payload(string field)
    {
        var bytes = PayloadBytes(field);
        return bytes.IsEmpty ? default : new Payload(bytes.ToArray());
    }

    /// <summary>Reads a header block.</summary>
    public MessageHeaders Headers(string field)
    {
        var count = U16(field);
        if (count == 0)
        {
            return MessageHeaders.Empty;
        }

        var items = new KeyValuePair<string, string>[count];
        for (var i = 0; i < count; i++)
        {
            var name = RequiredString(field + " name");
            items[i] = new(name, String(field + " value")!);
        }

        return new MessageHeaders(items);
    }

    /// <summary>Reads a string list.</summary>
    public string[] Strings(string field)
    {
        var count = U16(field);
        if (count > Remaining / 2)
        {
            throw new ProtocolException(ErrorCodes.MalformedFrame, $"{_type} frame: the {field} list claims {count} entries but only {Remaining} bytes remain.");
        }

        var values = new string[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = String(field)!;
        }

        return values;
    }

    /// <summary>Checks the whole body was read.</summary>
    public readonly void End()
    {
        if (_position != _body.Length)
        {
            throw new ProtocolException(ErrorCodes.MalformedFrame, $"{_type} frame: {_body.Length - _position} bytes left over after the last field.");
        }
    }

    private ReadOnlySpan<byte> Take(int count, string field)
    {
        if (count > _body.Length - _position)
        {
            throw new ProtocolException(ErrorCodes.MalformedFrame, $"{_type} frame is truncated: the {field} field needs {count} bytes but {_body.Length - _position} remain.");
        }

        var span = _body.Slice(_position, count);
        _position += count;
        return span;
    }

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
