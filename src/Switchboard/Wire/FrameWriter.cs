using System.Buffers;
using Switchboard.Transports;

namespace Switchboard.Wire;

/// <summary>Which lane a frame goes out on.</summary>
internal enum Lane
{
    /// <summary>In order with every other data frame.</summary>
    Data,

    /// <summary>Ahead of any data backlog (ping, pong, welcome, errors, going away).</summary>
    Control,
}

/// <summary>What happened to a frame handed to a <see cref="FrameWriter"/>.</summary>
internal enum WriteOutcome
{
    /// <summary>Encoded and queued for the socket.</summary>
    Written,

    /// <summary>The connection is closing: nothing more goes out.</summary>
    Closed,

    /// <summary>The bound is reached: the caller applies its overflow policy (nothing was written).</summary>
    Full,

    /// <summary>The frame is larger than the peer accepts (<see cref="FrameWriter.PeerMaxFrameSize"/>): it was taken back.</summary>
    TooLarge,
}

/// <summary>
/// The one way frames get into a connection's outbound buffer, on the client and on the broker: it owns the buffer's
/// lock, the lane, the CRC flag and the count of messages written, so no caller takes the lock or touches the buffer.
/// Encoders are static delegates over a state passed by reference, so writing allocates nothing.
/// </summary>
internal sealed class FrameWriter
{
    private readonly OutboundBuffer _buffer;
    private long _messages;
    private long _tooLarge;

    public FrameWriter(long limitBytes) => _buffer = new OutboundBuffer(limitBytes);

    /// <summary>Encodes a frame from <paramref name="state"/>.</summary>
    public delegate void Encoder<TState>(IBufferWriter<byte> output, bool crc, in TState state);

    /// <summary>Whether frames carry a CRC-32C (set once the handshake says so).</summary>
    public bool Crc { get; set; }

    /// <summary>The bytes allowed to wait for the socket.</summary>
    public long LimitBytes => _buffer.LimitBytes;

    /// <summary>Bytes waiting for the socket (a snapshot).</summary>
    public int Buffered => _buffer.Buffered;

    /// <summary>True once <see cref="Complete"/> was called.</summary>
    public bool IsCompleted => _buffer.IsCompleted;

    /// <summary>
    /// Set by the broker: called (under the lock) when an answer or a control frame finds the buffer past its
    /// headroom (see <see cref="OutboundBuffer.IsPastHeadroom"/>); the frame is not written. Without it (the client,
    /// whose buffer holds what it sends) answers are never refused.
    /// </summary>
    public Action? PastHeadroom { get; set; }

    /// <summary>Messages written with <c>countAsMessage</c> (EVENT frames).</summary>
    public long MessagesWritten => Volatile.Read(ref _messages);

    /// <summary>
    /// The largest length field the peer accepts (it said so in its handshake): a frame above it is never sent, the
    /// write answers <see cref="WriteOutcome.TooLarge"/> instead. Unlimited until set.
    /// </summary>
    public int PeerMaxFrameSize { get; set; } = int.MaxValue;

    /// <summary>Frames not sent because they were larger than <see cref="PeerMaxFrameSize"/>.</summary>
    public long TooLargeFrames => Volatile.Read(ref _tooLarge);

    /// <summary>Writes one frame unless the connection is closing (<see cref="WriteOutcome.Closed"/>), the buffer is past
    /// its headroom (<see cref="WriteOutcome.Full"/>) or the frame is too large for the peer.</summary>
    public WriteOutcome Write<TState>(Lane lane, in TState state, Encoder<TState> encode)
    {
        lock (_buffer.Sync)
        {
            if (_buffer.IsCompleted)
            {
                return WriteOutcome.Closed;
            }

            if (PastHeadroom is { } pastHeadroom && _buffer.IsPastHeadroom)
            {
                pastHeadroom();
                return WriteOutcome.Full;
            }

            if (!EncodeWithinLimit(lane == Lane.Control ? _buffer.ControlWriter : _buffer.Writer, state, encode))
            {
                return WriteOutcome.TooLarge;
            }

            _buffer.Commit();
            return WriteOutcome.Written;
        }
    }

    /// <summary>Writes one data frame unless the connection is closing or the bound is reached.</summary>
    public WriteOutcome WriteBounded<TState>(in TState state, Encoder<TState> encode, bool countAsMessage = false)
    {
        lock (_buffer.Sync)
        {
            if (_buffer.IsCompleted)
            {
                return WriteOutcome.Closed;
            }

            if (_buffer.IsFull)
            {
                return WriteOutcome.Full;
            }

            if (!EncodeWithinLimit(_buffer.Writer, state, encode))
            {
                return WriteOutcome.TooLarge;
            }

            _buffer.Commit();
            if (countAsMessage)
            {
                _messages++;
            }

            return WriteOutcome.Written;
        }
    }

    // Encoders size their frame themselves; checking what they wrote (and taking it back) keeps the limit in one place.
    private bool EncodeWithinLimit<TState>(FrameBuffer target, in TState state, Encoder<TState> encode)
    {
        var before = target.WrittenCount;
        encode(target, Crc, state);
        if (target.WrittenCount - before - sizeof(int) <= PeerMaxFrameSize)
        {
            return true;
        }

        target.Truncate(before);
        _tooLarge++;
        return false;
    }

    /// <summary>Waits for frames and returns the next batch (see <see cref="OutboundBuffer.TakeAsync"/>).</summary>
    public ValueTask<ReadOnlyMemory<byte>> TakeAsync(CancellationToken cancellationToken) => _buffer.TakeAsync(cancellationToken);

    /// <summary>Ends the stream: the write loop drains what is left, then gets an empty batch.</summary>
    public void Complete() => _buffer.Complete();

    /// <summary>Drops every frame waiting; returns how many were dropped.</summary>
    public int Clear() => _buffer.Clear();
}
