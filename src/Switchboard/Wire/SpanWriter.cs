using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Switchboard.Wire;

/// <summary>
/// Writes one frame straight into an <see cref="IBufferWriter{T}"/>: the caller sizes the body first
/// (<see cref="SizeOf(string?)"/> and friends), <see cref="Begin"/> takes one span for the whole frame, fields are
/// written in place, <see cref="End"/> adds the CRC if asked and advances once. Nothing is allocated.
/// </summary>
public ref struct SpanWriter
{
    private readonly Span<byte> _frame;
    private readonly bool _crc;
    private int _position;

    private SpanWriter(Span<byte> frame, bool crc)
    {
        _frame = frame;
        _crc = crc;
        _position = Protocol.HeaderSize;
    }

    /// <summary>Starts a frame of <paramref name="bodySize"/> bytes.</summary>
    public static SpanWriter Begin(IBufferWriter<byte> output, FrameType type, int bodySize, bool crc)
    {
        var length = Protocol.MinLength + bodySize + (crc ? 4 : 0);
        var total = 4 + length;
        var span = output.GetSpan(total)[..total];
        BinaryPrimitives.WriteInt32LittleEndian(span, length);
        span[4] = (byte)type;
        span[5] = crc ? Protocol.FlagCrc : (byte)0;
        return new SpanWriter(span, crc);
    }

    /// <summary>Finishes the frame: checks the body was exactly as sized, appends the CRC, advances the writer.</summary>
    public readonly void End(IBufferWriter<byte> output)
    {
        var expected = _frame.Length - (_crc ? 4 : 0);
        if (_position != expected)
        {
            throw new InvalidOperationException($"Frame body was {_position - Protocol.HeaderSize} bytes but was sized as {expected - Protocol.HeaderSize}.");
        }

        if (_crc)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_frame[_position..], Crc32C.Compute(_frame[4.._position]));
        }

        output.Advance(_frame.Length);
    }

    /// <summary>Bytes a string field takes (u16 length + UTF-8).</summary>
    public static int SizeOf(string? value) => 2 + (value is null ? 0 : Encoding.UTF8.GetByteCount(value));

    /// <summary>Bytes a payload field takes (u32 length + bytes).</summary>
    public static int SizeOf(Payload value) => 4 + value.Length;

    /// <summary>Bytes a header block takes (u16 count + name/value strings).</summary>
    public static int SizeOf(MessageHeaders? headers)
    {
        var size = 2;
        // By index, not foreach: enumerating the interface would box an enumerator per frame.
        for (var i = 0; i < (headers?.Count ?? 0); i++)
        {
            var (name, value) = headers![i];
            size += SizeOf(name) + SizeOf(value);
        }

        return size;
    }

    /// <summary>Bytes a string list takes (u16 count + strings).</summary>
    public static int SizeOf(IReadOnlyList<string> values)
    {
        var size = 2;
        foreach (var value in values)
        {
            size += SizeOf(value);
        }

        return size;
    }

    /// <summary>A count as the u16 the wire carries; more than 65 535 is refused, never truncated.</summary>
    public static ushort Count(int count, string what) => count <= ushort.MaxValue
        ? (ushort)count
        : throw new SwitchboardException(ErrorCodes.InvalidArgument, $"A frame can carry at most {ushort.MaxValue} {what}; this one has {count}.");

    /// <summary>Writes a byte.</summary>
    public void U8(byte value) => _frame[_position++] = value;

    /// <summary>Writes a little-endian u16.</summary>
    public void U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_frame[_position..], value);
        _position += 2;
    }

    /// <summary>Writes a little-endian u32.</summary>
    public void U32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_frame[_position..], value);
        _position += 4;
    }

    /// <summary>Writes a little-endian u64.</summary>
    public void U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_frame[_position..], value);
        _position += 8;
    }

    /// <summary>Writes a string (null is written as empty).</summary>
    public void String(string? value)
    {
        var count = value is null ? 0 : Encoding.UTF8.GetBytes(value, _frame[(_position + 2)..]);
        if (count > ushort.MaxValue)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"A string field of {count} bytes does not fit the protocol's 65 535-byte limit.");
        }

        BinaryPrimitives.WriteUInt16LittleEndian(_frame[_position..], (ushort)count);
        _position += 2 + count;
    }

    /// <summary>Writes a payload.</summary>
    public void Payload(Payload value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_frame[_position..], value.Length);
        value.Bytes.Span.CopyTo(_frame[(_position + 4)..]);
        _position += 4 + value.Length;
    }

    /// <summary>Writes a header block.</summary>
    public void Headers(MessageHeaders? headers)
    {
        U16(Count(headers?.Count ?? 0, "headers"));
        for (var i = 0; i < (headers?.Count ?? 0); i++)
        {
            var (name, value) = headers![i];
            String(name);
            String(value);
        }
    }

    /// <summary>Writes a string list.</summary>
    public void Strings(IReadOnlyList<string> values)
    {
        U16(Count(values.Count, "names"));
        foreach (var value in values)
        {
            String(value);
        }
    }
}
