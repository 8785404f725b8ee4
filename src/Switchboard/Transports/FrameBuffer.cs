using System.Buffers;

namespace Switchboard.Transports;

/// <summary>
/// A growable byte buffer (as <see cref="ArrayBufferWriter{T}"/>) that can also take back what was written last: a
/// frame found too large for its peer once encoded is removed again without disturbing the frames before it.
/// </summary>
internal sealed class FrameBuffer : IBufferWriter<byte>
{
    private const int MinimumCapacity = 256;
    private byte[] _bytes = [];
    private int _written;

    /// <summary>Bytes written so far.</summary>
    public int WrittenCount => _written;

    /// <summary>The bytes written so far.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _bytes.AsMemory(0, _written);

    /// <summary>Forgets what was written, keeping the capacity.</summary>
    public void ResetWrittenCount() => _written = 0;

    /// <summary>Takes back everything written after the first <paramref name="count"/> bytes.</summary>
    public void Truncate(int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)count, (uint)_written, nameof(count));
        _written = count;
    }

    /// <inheritdoc />
    public void Advance(int count)
    {
        if ((uint)count > (uint)(_bytes.Length - _written))
        {
            throw new InvalidOperationException($"Cannot advance {count} bytes past the {_bytes.Length - _written} asked for.");
        }

        _written += count;
    }

    /// <inheritdoc />
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _bytes.AsMemory(_written);
    }

    /// <inheritdoc />
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _bytes.AsSpan(_written);
    }

    private void Reserve(int sizeHint)
    {
        var needed = Math.Max(sizeHint, 1);
        if (_bytes.Length - _written >= needed)
        {
            return;
        }

        var grown = Math.Max((long)_written + needed, Math.Max(MinimumCapacity, 2L * _bytes.Length));
        var capacity = (int)Math.Min(grown, Array.MaxLength);
        if (capacity - _written < needed)
        {
            throw new OutOfMemoryException($"A frame buffer cannot grow past {Array.MaxLength} bytes.");
        }

        Array.Resize(ref _bytes, capacity);
    }
}
