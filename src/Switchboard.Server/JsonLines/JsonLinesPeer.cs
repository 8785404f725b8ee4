using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;

namespace Switchboard.Server;

/// <summary>
/// The JSON-lines codec of a <see cref="BrokerPeer"/>: a read loop cuts the transport's bytes into lines (each bounded
/// by <see cref="BrokerOptions.MaxJsonLineBytes"/>; a longer one is skipped, never held whole) and turns each into calls
/// on the peer; a <see cref="LineWriter"/> encodes the peer's answers and deliveries as lines into the outbound buffer.
/// A bad line gets an error line; the connection and what it registered stay. Split by concern: this file holds the
/// line framing, <c>JsonLinesPeer.Verbs.cs</c> what each verb does, <c>JsonLinesPeer.Output.cs</c> the lines the
/// broker writes.
/// </summary>
internal sealed partial class JsonLinesPeer : BrokerPeer
{
    /// <summary>An unfinished line shorter than this waits in the transport's pipe; a longer one is copied out, so the
    /// pipe never holds enough to pause the transport (whose read buffer may be smaller than the line limit).</summary>
    private const int HoldInPipe = 16 * 1024;

    /// <summary>A line buffer grown past this is dropped after use, so one big line does not pin memory.</summary>
    private const int KeepLineBuffer = 64 * 1024;

    private static long s_ids;
    private static readonly JsonWriterOptions WriteOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly int _maxLine;
    private readonly LineWriter _lines;
    private readonly ConcurrentDictionary<string, JsonLineSubscription> _listens = new(StringComparer.Ordinal);
    // The ids of this peer's requests in flight, by the number the peer's Ask knows them by.
    private readonly Dictionary<uint, LineId?> _asked = [];
    private ArrayBufferWriter<byte>? _line;
    private bool _skipping;
    private uint _nextAsk;
    private long _unnamedListens;
    private long _messagesOut;
    private LineId? _helloId;

    public JsonLinesPeer(Broker broker, ConnectionContext context)
        : base(broker, context, $"j{Interlocked.Increment(ref s_ids)}")
    {
        _maxLine = broker.Options.MaxJsonLineBytes;
        _lines = new LineWriter(broker.Options.MaxOutboundBytes, WriteOptions, OnPastHeadroom);
        WantsHeartbeats = false; // until a hello asks for them: a bare `nc` could not answer a ping
    }

    public override long MessagesOut => Volatile.Read(ref _messagesOut);

    public override int Buffered => _lines.Buffered;

    protected override bool HandshakeRequired => Broker.Authenticator is not null;

    protected override string HandshakeTimeoutMessage =>
        $"No hello within {Broker.Options.HandshakeTimeout.TotalSeconds:0.#} s (the HandshakeTimeout setting); this broker requires {{\"op\":\"hello\",\"client\":\"NAME\",\"token\":\"...\"}} as the first line.";

    protected override ValueTask<ReadOnlyMemory<byte>> TakeOutputAsync() => _lines.TakeAsync(CancellationToken.None);

    protected override void CompleteOutput() => _lines.Complete();

    protected override void OnClosed() => _lines.Dispose();

    /// <summary>Reads lines until the input ends (true) or a verb ended the connection (false).</summary>
    protected override async Task<bool> ReadLoopAsync()
    {
        var input = Context.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync(Closing);
            MarkReceived();
            StartRead();
            var buffer = result.Buffer;
            var budget = FramesPerClockCheck;
            var cutShort = false; // whole lines may be left: the turn ended before them
            try
            {
                while (TryTakeLine(ref buffer, out var pending))
                {
                    if (!pending.IsCompletedSuccessfully)
                    {
                        await pending;
                    }

                    if (IsStopped)
                    {
                        return false;
                    }

                    if (--budget == 0)
                    {
                        // One read may hold a megabyte of cheap lines: the turn must be able to end inside it.
                        cutShort = TurnIsOver();
                        if (cutShort)
                        {
                            break;
                        }

                        budget = FramesPerClockCheck;
                    }
                }

                if (!cutShort && result.IsCompleted)
                {
                    // The last line may lack its newline.
                    var last = TakeLastLine(ref buffer);
                    if (!last.IsCompletedSuccessfully)
                    {
                        await last;
                    }

                    return !IsStopped;
                }

                if (!cutShort)
                {
                    KeepTail(ref buffer); // cut short, the rest stays in the pipe, unexamined: the next read returns it at once
                }
            }
            finally
            {
                MarkUnfinished(!cutShort && (!buffer.IsEmpty || _skipping || (_line?.WrittenCount ?? 0) > 0));
                input.AdvanceTo(buffer.Start, cutShort ? buffer.Start : buffer.End);
            }

            if (EndOfTurn() is { } pause)
            {
                await pause;
            }

            if (result.IsCanceled)
            {
                return true;
            }
        }
    }

    /// <summary>Takes the next whole line out of <paramref name="buffer"/> and starts handling it; false when no newline is left.</summary>
    private bool TryTakeLine(ref ReadOnlySequence<byte> buffer, out ValueTask pending)
    {
        pending = default;
        if (buffer.PositionOf((byte)'\n') is not { } newline)
        {
            return false;
        }

        var line = buffer.Slice(0, newline);
        buffer = buffer.Slice(buffer.GetPosition(1, newline));
        if (_skipping)
        {
            // The end of a line already answered with line_too_long.
            _skipping = false;
            return true;
        }

        pending = HandleLine(line);
        return true;
    }

    private ValueTask TakeLastLine(ref ReadOnlySequence<byte> buffer)
    {
        var line = buffer;
        buffer = buffer.Slice(buffer.End);
        if (_skipping || (line.IsEmpty && (_line?.WrittenCount ?? 0) == 0))
        {
            return default;
        }

        return HandleLine(line);
    }

    /// <summary>Handles one line given by its bytes in the pipe (after any part already copied out).</summary>
    private ValueTask HandleLine(ReadOnlySequence<byte> line)
    {
        var held = _line?.WrittenCount ?? 0;
        if (held + line.Length > _maxLine)
        {
            ReleaseLine();
            SendTooLong();
            return default;
        }

        ReadOnlyMemory<byte> bytes;
        if (held == 0 && line.IsSingleSegment)
        {
            bytes = line.First;
        }
        else
        {
            var copy = _line ??= new ArrayBufferWriter<byte>((int)Math.Max(256, Math.Min(_maxLine, line.Length + 1)));
            foreach (var segment in line)
            {
                copy.Write(segment.Span);
            }

            bytes = copy.WrittenMemory;
        }

        try
        {
            // Everything a verb needs is copied out of the line before this returns; its pending part never reads the bytes.
            return OnLine(bytes);
        }
        finally
        {
            ReleaseLine();
        }
    }

    /// <summary>Keeps an unfinished line: small ones wait in the pipe, longer ones are copied out, over-long ones are skipped.</summary>
    private void KeepTail(ref ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return;
        }

        var held = _line?.WrittenCount ?? 0;
        if (_skipping)
        {
            buffer = buffer.Slice(buffer.End);
        }
        else if (held + buffer.Length > _maxLine)
        {
            ReleaseLine();
            _skipping = true;
            SendTooLong();
            buffer = buffer.Slice(buffer.End);
        }
        else if (held > 0 || buffer.Length >= HoldInPipe)
        {
            var copy = _line ??= new ArrayBufferWriter<byte>((int)Math.Max(256, Math.Min(_maxLine, Math.Max(buffer.Length * 2, HoldInPipe))));
            foreach (var segment in buffer)
            {
                copy.Write(segment.Span);
            }

            buffer = buffer.Slice(buffer.End);
        }
    }

    private void ReleaseLine()
    {
        if (_line is { } line)
        {
            if (line.Capacity > KeepLineBuffer)
            {
                _line = null;
            }
            else
            {
                line.ResetWrittenCount();
            }
        }
    }

    private void SendTooLong() =>
        SendError(null, ErrorCodes.LineTooLong, $"A line was longer than {_maxLine} bytes (the MaxJsonLineBytes setting); it was skipped up to its newline. Send large data in several messages.");
}
