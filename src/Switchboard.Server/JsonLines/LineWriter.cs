using System.Text.Json;
using Switchboard.Transports;

namespace Switchboard.Server;

/// <summary>
/// The one way lines get into a JSON-lines connection's outbound buffer: it owns the buffer's lock and the JSON writer,
/// and frames every line as one JSON object and a newline, so no caller takes the lock or touches the buffer. The
/// JSON-lines counterpart of <see cref="Wire.FrameWriter"/>.
/// </summary>
internal sealed class LineWriter : IDisposable
{
    private readonly OutboundBuffer _buffer;
    private readonly Utf8JsonWriter _json;

    public LineWriter(long limitBytes, JsonWriterOptions options, Action pastHeadroom)
    {
        _buffer = new OutboundBuffer(limitBytes);
        _json = new Utf8JsonWriter(_buffer.Writer, options);
        _pastHeadroom = pastHeadroom;
    }

    private readonly Action _pastHeadroom;

    /// <summary>Writes the properties of one line's object from <paramref name="state"/>.</summary>
    public delegate void Encoder<TState>(Utf8JsonWriter json, in TState state);

    /// <summary>Writes several lines (or decides not to) under one hold of the lock, so nothing comes between them.</summary>
    public delegate void Section<TState>(Lines lines, in TState state);

    /// <summary>Bytes waiting for the socket (a snapshot).</summary>
    public int Buffered => _buffer.Buffered;

    /// <summary>True once <see cref="Complete"/> was called.</summary>
    public bool IsCompleted => _buffer.IsCompleted;

    /// <summary>Writes one line unless the connection is closing; false when it is.</summary>
    public bool Write<TState>(in TState state, Encoder<TState> encode)
    {
        lock (_buffer.Sync)
        {
            return new Lines(this).Write(state, encode);
        }
    }

    /// <summary>Runs <paramref name="section"/> holding the lock; its writes stay together and in order.</summary>
    public void InOrder<TState>(in TState state, Section<TState> section)
    {
        lock (_buffer.Sync)
        {
            section(new Lines(this), state);
        }
    }

    /// <summary>Waits for lines and returns the next batch (see <see cref="OutboundBuffer.TakeAsync"/>).</summary>
    public ValueTask<ReadOnlyMemory<byte>> TakeAsync(CancellationToken cancellationToken) => _buffer.TakeAsync(cancellationToken);

    /// <summary>Ends the stream: the write loop drains what is left, then gets an empty batch.</summary>
    public void Complete() => _buffer.Complete();

    public void Dispose()
    {
        lock (_buffer.Sync)
        {
            _json.Dispose();
        }
    }

    /// <summary>Writing while <see cref="InOrder{TState}"/> holds the lock.</summary>
    public readonly ref struct Lines
    {
        private readonly LineWriter _owner;

        internal Lines(LineWriter owner) => _owner = owner;

        /// <summary>True when the connection is closing: nothing more goes out.</summary>
        public bool IsCompleted => _owner._buffer.IsCompleted;

        /// <summary>True when the outbound bound is reached.</summary>
        public bool IsFull => _owner._buffer.IsFull;

        /// <summary>Writes one line unless the connection is closing; false when it is.</summary>
        public bool Write<TState>(in TState state, Encoder<TState> encode)
        {
            var buffer = _owner._buffer;
            if (buffer.IsCompleted)
            {
                return false;
            }

            if (buffer.IsPastHeadroom)
            {
                // Deliveries stop at the bound (the caller's policy); answers get as much again, then the peer is cut.
                _owner._pastHeadroom();
                return false;
            }

            var json = _owner._json;
            json.Reset(buffer.Writer);
            json.WriteStartObject();
            encode(json, state);
            json.WriteEndObject();
            json.Flush();
            buffer.Writer.GetSpan(1)[0] = (byte)'\n';
            buffer.Writer.Advance(1);
            buffer.Commit();
            return true;
        }
    }
}
