using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;
using Switchboard.Routing;
using Switchboard.Transports;
using Switchboard.Wire;

namespace Switchboard.Server;

/// <summary>
/// The binary-protocol codec of a <see cref="BrokerPeer"/>: a read loop that parses frames from the transport's pipe
/// and turns them into calls on the peer, and a <see cref="FrameWriter"/> that encodes the peer's answers and
/// deliveries into the outbound buffer. Split by concern: this file holds the framing, <c>BinaryPeer.Frames.cs</c>
/// what each frame does.
/// </summary>
internal sealed partial class BinaryPeer : BrokerPeer
{
    private static long s_ids;
    private readonly FrameParser _parser;
    private readonly ConcurrentDictionary<uint, Subscription> _subscriptions = new();
    private readonly ConcurrentDictionary<string, SenderRegistration>.AlternateLookup<ReadOnlySpan<char>> _sendersByChars;
    private readonly NameCache _names = new();
    private readonly bool _lossy;
    private bool _pagedLists;

    public BinaryPeer(Broker broker, ConnectionContext context, bool lossy = false)
        : base(broker, context, $"c{Interlocked.Increment(ref s_ids)}")
    {
        _lossy = lossy;
        _parser = new FrameParser(broker.Options.MaxFrameSize);
        Writer = new FrameWriter(broker.Options.MaxOutboundBytes) { PastHeadroom = OnPastHeadroom, PeerMaxFrameSize = Protocol.DefaultMaxFrameSize };
        _sendersByChars = Senders.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Every frame to this client goes through it.</summary>
    public FrameWriter Writer { get; }

    /// <summary>EVENT frames written for this connection's subscriptions.</summary>
    public override long MessagesOut => Writer.MessagesWritten;

    public override int Buffered => Writer.Buffered;

    protected override bool HandshakeRequired => true;

    protected override string HandshakeTimeoutMessage =>
        $"No HELLO within {Broker.Options.HandshakeTimeout.TotalSeconds:0.#} s (the HandshakeTimeout setting).";

    protected override ValueTask<ReadOnlyMemory<byte>> TakeOutputAsync() => Writer.TakeAsync(CancellationToken.None);

    protected override void CompleteOutput() => Writer.Complete();

    public override void SendPing()
    {
        Writer.Write(Lane.Control, (ulong)Time.GetTimestamp(), static (output, crc, in nonce) => Frames.PingPong(output, crc, FrameType.Ping, nonce));
    }

    public override void SendGoingAway(string reason)
    {
        Writer.Write(Lane.Control, reason, static (output, crc, in why) => Frames.GoingAway(output, crc, why));
    }

    protected override void SendFatal(string code, string message) => SendError(0, fatal: true, code, message);

    protected override WriteOutcome WriteAsk(bool produce, uint id, string target, string name, MessageHeaders headers, Payload data) =>
        Writer.Write(Lane.Data, (produce ? FrameType.ProduceIn : FrameType.RequestIn, id, target, name, headers, data), static (output, crc, in q) =>
            Frames.Incoming(output, crc, q.Item1, q.id, q.target, q.name, q.headers, q.data));

    internal override void SendReply(uint askerId, string? code, string? message, Payload data)
    {
        if (Writer.Write(Lane.Data, (askerId, code, message, data), static (output, crc, in r) => Frames.Reply(output, crc, r.askerId, r.code, r.message, r.data)) == WriteOutcome.TooLarge)
        {
            var error = $"The answer ({data.Length} bytes) is larger than the {Writer.PeerMaxFrameSize}-byte frames this connection accepts.";
            Writer.Write(Lane.Data, (askerId, error), static (output, crc, in r) => Frames.Reply(output, crc, r.askerId, ErrorCodes.MessageTooLarge, r.error, default));
        }
    }

    private void SendError(uint correlation, bool fatal, string code, string message)
    {
        Writer.Write(Lane.Control, (correlation, fatal, code, message), static (output, crc, in e) => Frames.Error(output, crc, e.correlation, e.fatal, e.code, e.message));
    }

    private void SendOk(uint correlation, string? detail = null)
    {
        Writer.Write(Lane.Data, (correlation, detail), static (output, crc, in ok) => Frames.Ok(output, crc, ok.correlation, ok.detail));
    }

    protected override async Task<bool> ReadLoopAsync()
    {
        var input = Context.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync(Closing);
            var buffer = result.Buffer;
            MarkReceived();
            StartRead();
            // Recipients are woken once for the whole batch, after it is routed, and their writes run here (nats-server
            // flushes its clients the same way at the end of each read).
            OutboundBuffer.DeferSignals();
            var budget = FramesPerClockCheck;
            var cutShort = false; // whole frames are left: the turn ended before them
            try
            {
                while (TryProcessTolerant(ref buffer, out var pending))
                {
                    if (!pending.IsCompletedSuccessfully)
                    {
                        OutboundBuffer.SignalDeferred(); // the await may resume on another thread
                        await pending;
                        OutboundBuffer.DeferSignals();
                    }

                    if (IsStopped)
                    {
                        return false;
                    }

                    if (--budget == 0)
                    {
                        // One read may hold a megabyte of cheap requests: the turn must be able to end inside it.
                        cutShort = TurnIsOver();
                        if (cutShort)
                        {
                            break;
                        }

                        budget = FramesPerClockCheck;
                    }
                }
            }
            finally
            {
                OutboundBuffer.SignalDeferred();
                MarkUnfinished(!cutShort && !buffer.IsEmpty);
                // Cut short, nothing left is examined: the next read returns the rest at once instead of waiting for more.
                input.AdvanceTo(buffer.Start, cutShort ? buffer.Start : buffer.End);
            }

            if (!cutShort && (result.IsCompleted || result.IsCanceled))
            {
                return false;
            }

            if (EndOfTurn() is { } pause)
            {
                await pause;
            }
        }
    }

    /// <summary>On a lossy carrier (a serial line) a frame that fails its CRC is dropped and counted; the link goes on.</summary>
    private bool TryProcessTolerant(ref ReadOnlySequence<byte> buffer, out ValueTask pending)
    {
        while (true)
        {
            try
            {
                return TryProcess(ref buffer, out pending);
            }
            catch (ProtocolException ex) when (_lossy && ex.Code == ErrorCodes.BadChecksum)
            {
                Router.Counters.AddCorruptFrame();
                Broker.Log.ProtocolViolation(Id, ClientName, ex.Code, ex.Message + " (dropped; the link goes on)");
            }
        }
    }

    private bool TryProcess(ref ReadOnlySequence<byte> buffer, out ValueTask pending)
    {
        if (!_parser.TryReadFrame(ref buffer, out var type, out var body))
        {
            pending = default;
            return false;
        }

        pending = Dispatch(type, body);
        return true;
    }
}
