using System.Buffers;
using System.Buffers.Binary;

namespace Switchboard.Wire;

/// <summary>
/// Cuts frames out of a byte stream. The declared length is checked against the limit before anything waits or
/// allocates, so a hostile length costs nothing; a frame split across segments is copied into a reused scratch
/// buffer, so steady-state parsing allocates nothing.
/// </summary>
public sealed class FrameParser
{
    private readonly int _maxFrameSize;
    private byte[] _scratch = [];

    /// <summary>Creates a parser that refuses frames longer than <paramref name="maxFrameSize"/> (the length field's value).</summary>
    public FrameParser(int maxFrameSize = Protocol.DefaultMaxFrameSize)
    {
        _maxFrameSize = maxFrameSize;
    }

    /// <summary>Frames whose CRC did not match (each one also throws).</summary>
    public long ChecksumFailures { get; private set; }

    /// <summary>
    /// Takes one whole frame off the front of <paramref name="buffer"/> when it holds one. The frame's body stays
    /// valid until the next call. Throws <see cref="ProtocolException"/> for a bad length or checksum.
    /// </summary>
    public bool TryRead(ref ReadOnlySequence<byte> buffer, out FrameType type, out ReadOnlySpan<byte> body)
    {
        var found = TryReadFrame(ref buffer, out type, out var memory);
        body = memory.Span;
        return found;
    }

    /// <summary>
    /// Like <see cref="TryRead(ref ReadOnlySequence{byte}, out FrameType, out ReadOnlySpan{byte})"/>, but hands the body
    /// out as memory (a view into the input, or into the parser's scratch buffer for a frame split across segments),
    /// so a payload can travel on without a copy while the input is not advanced.
    /// </summary>
    public bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out FrameType type, out ReadOnlyMemory<byte> body)
    {
        type = default;
        body = default;
        if (buffer.Length < 4)
        {
            return false;
        }

        Span<byte> lengthBytes = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(lengthBytes);
        var length = BinaryPrimitives.ReadInt32LittleEndian(lengthBytes);
        if (length < Protocol.MinLength)
        {
            throw new ProtocolException(ErrorCodes.MalformedFrame, $"Frame length {length} is below the minimum of {Protocol.MinLength} (type and flags).");
        }

        if (length > _maxFrameSize)
        {
            throw new ProtocolException(ErrorCodes.FrameTooLarge, $"Frame length {length} exceeds the limit of {_maxFrameSize} bytes (the MaxFrameSize setting).");
        }

        if (buffer.Length < 4L + length)
        {
            return false;
        }

        var frame = buffer.Slice(4, length);
        ReadOnlyMemory<byte> bytes;
        if (frame.IsSingleSegment)
        {
            bytes = frame.First;
        }
        else
        {
            if (_scratch.Length < length)
            {
                _scratch = new byte[Math.Max(length, Math.Min(_maxFrameSize, _scratch.Length * 2))];
            }

            frame.CopyTo(_scratch);
            bytes = _scratch.AsMemory(0, length);
        }

        buffer = buffer.Slice(4 + length);
        var span = bytes.Span;
        type = (FrameType)span[0];
        var flags = span[1];
        if ((flags & Protocol.FlagCrc) != 0)
        {
            if (length < Protocol.MinLength + 4)
            {
                throw new ProtocolException(ErrorCodes.MalformedFrame, $"{type} frame has the CRC flag but only {length} bytes, too few for a CRC.");
            }

            var expected = BinaryPrimitives.ReadUInt32LittleEndian(span[^4..]);
            var actual = Crc32C.Compute(span[..^4]);
            if (expected != actual)
            {
                ChecksumFailures++;
                throw new ProtocolException(ErrorCodes.BadChecksum, $"{type} frame failed its CRC-32C check (sent {expected:x8}, computed {actual:x8}).");
            }

            body = bytes[2..^4];
        }
        else
        {
            body = bytes[2..];
        }

        return true;
    }
}
