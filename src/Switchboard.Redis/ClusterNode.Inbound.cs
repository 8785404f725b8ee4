using System.Buffers;
using System.Collections.Concurrent;
using StackExchange.Redis;
using Switchboard.Routing;
using Switchboard.Transports;
using Switchboard.Wire;

namespace Switchboard.Redis;

/// <summary>What other nodes send: batches on this node's inbox (read in order, one at a time, so order from one
/// sender to one listener holds) and HELLO / GOING_AWAY on the control channel.</summary>
public sealed partial class ClusterNode
{
    private const int MaxStackName = 512;

    // Which link owns each mirrored sender name: a local message is never one of these, so they are never sent back.
    private readonly ConcurrentDictionary<string, NodeLink> _mirrorOwners = new(StringComparer.Ordinal);
    // One parser per loop: a parser keeps a scratch buffer.
    private readonly FrameParser _inboxParser = new(ClusterOptions.MaxBatchBytesLimit + 1024);
    private readonly FrameParser _controlParser = new(ClusterOptions.MaxBatchBytesLimit + 1024);

    /// <summary>True when <paramref name="sender"/> is a mirror of another node's sender.</summary>
    internal bool IsMirror(string sender) => _mirrorOwners.ContainsKey(sender);

    private async Task ReadInboxAsync(ChannelMessageQueue queue)
    {
        try
        {
            while (true)
            {
                var message = await queue.ReadAsync(_stopping.Token);
                await OnBatchAsync((ReadOnlyMemory<byte>)message.Message);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
        {
        }
    }

    private async Task OnBatchAsync(ReadOnlyMemory<byte> batch)
    {
        var frames = new ReadOnlySequence<byte>(batch);
        if (!_inboxParser.TryReadFrame(ref frames, out var type, out var body) || type != NodeFrames.Batch)
        {
            return; // not ours (a stray publish on the channel)
        }

        var (member, sequence) = ReadBatchHeader(body.Span);
        if (member == Member)
        {
            if (_inboxParser.TryReadFrame(ref frames, out type, out body) && type == NodeFrames.Probe)
            {
                OnProbe(ReadProbe(body.Span));
            }

            return;
        }

        var link = LinkTo(member);
        if (link.SequenceIn != 0 && sequence != link.SequenceIn)
        {
            Counters.AddGap(); // batches were lost: what they announced may be missing here, so ask again
            WriteState(link, reply: true);
        }

        link.SequenceIn = sequence + 1;
        OutboundBuffer.DeferSignals();
        try
        {
            while (_inboxParser.TryReadFrame(ref frames, out type, out body))
            {
                var pending = OnFrame(link, type, body);
                if (!pending.IsCompletedSuccessfully)
                {
                    OutboundBuffer.SignalDeferred();
                    await pending;
                    OutboundBuffer.DeferSignals();
                }
            }
        }
        catch (Exception ex) when (ex is ProtocolException or SwitchboardException or InvalidOperationException)
        {
            Log.InboundFailed(ex, member);
        }
        finally
        {
            OutboundBuffer.SignalDeferred();
        }
    }

    private static ulong ReadProbe(ReadOnlySpan<byte> body) => new SpanReader(body, NodeFrames.Probe).U64("nonce");

    private static (string Member, ulong Sequence) ReadBatchHeader(ReadOnlySpan<byte> body)
    {
        var header = new SpanReader(body, NodeFrames.Batch);
        return (header.RequiredString("member"), header.U64("sequence"));
    }

    private ValueTask OnFrame(NodeLink link, FrameType type, ReadOnlyMemory<byte> body)
    {
        switch (type)
        {
            case FrameType.Event:
                return OnEvent(link, body);
            case FrameType.AddSender:
                return AddMirror(link, body.Span);
            case NodeFrames.SenderGone:
                return OnSenderGone(link, body.Span);
            case FrameType.Flush:
                link.Write(new SpanReader(body.Span, type).U32("correlation"), static (output, crc, in c) => Frames.Ok(output, crc, c));
                return default;
            case FrameType.Listen:
                OnListen(link, body.Span);
                return default;
            case FrameType.Unlisten:
                var unlisten = new SpanReader(body.Span, type);
                _ = unlisten.U32("correlation");
                link.RemoveInterest(unlisten.U32("subscription"));
                return default;
            case NodeFrames.StateBegin:
                link.BeginState();
                if (new SpanReader(body.Span, type).U8("reply") != 0)
                {
                    WriteState(link, reply: false);
                }

                return default;
            case NodeFrames.StateEnd:
                return EndStateAsync(link);
            case NodeFrames.Retain:
                OnRetain(link, body.Span);
                return default;
            case NodeFrames.RetainedAsk:
                ReplayRetained(link);
                return default;
            case FrameType.Ok:
                OnConfirmed(link, Frames.ReadOk(body.Span).Correlation);
                return default;
            case FrameType.AddProducer or FrameType.RemoveProducer or NodeFrames.ResultInterest or NodeFrames.Result:
                return OnGatherFrame(link, type, body.Span);
            default:
                OnRequestFrame(link, type, body);
                return default;
        }
    }

    /// <summary>A message from a remote sender, delivered here through its mirror: sender and event are looked up by
    /// their characters, and the payload stays a view into the batch Redis handed over.</summary>
    private ValueTask OnEvent(NodeLink link, ReadOnlyMemory<byte> body)
    {
        var r = new SpanReader(body.Span, FrameType.Event);
        _ = r.U32("subscription");
        var senderBytes = r.StringBytes("sender");
        var eventBytes = r.StringBytes("event");
        var headers = r.Headers("headers");
        var data = r.LentPayload("data", body);
        r.End();
        if (senderBytes.Length > MaxStackName || eventBytes.Length > MaxStackName)
        {
            Counters.AddUnknown();
            return default;
        }

        Span<char> senderChars = stackalloc char[senderBytes.Length];
        Span<char> eventChars = stackalloc char[eventBytes.Length];
        var senderLength = System.Text.Encoding.UTF8.GetChars(senderBytes, senderChars);
        var eventLength = System.Text.Encoding.UTF8.GetChars(eventBytes, eventChars);
        if (!link.MirrorsByChars.TryGetValue(senderChars[..senderLength], out var mirror) || mirror.Registration.IsClosed)
        {
            Counters.AddUnknown(); // it left meanwhile
            return default;
        }

        Counters.AddReceived();
        if (mirror.Registration.TryGetSlot(eventChars[..eventLength], out var slot))
        {
            return slot.DeliverAsync(data, headers);
        }

        try
        {
            return mirror.Registration.TriggerAsync(new string(eventChars[..eventLength]), data, headers);
        }
        catch (SwitchboardException)
        {
            Counters.AddUnknown();
            return default;
        }
    }

    /// <summary>RETAIN: the value is kept here too (bounded by this node's BusOptions.MaxRetained, like its own).</summary>
    private void OnRetain(NodeLink link, ReadOnlySpan<byte> body)
    {
        var r = new SpanReader(body, NodeFrames.Retain);
        _ = r.U32("subscription");
        var sender = r.RequiredString("sender");
        var @event = r.RequiredString("event");
        var headers = r.Headers("headers");
        var data = r.Payload("data");
        r.End();
        if (!link.Mirrors.ContainsKey(sender))
        {
            return; // not a sender of that node (any more)
        }

        try
        {
            Router.Retain(new BusMessage(sender, @event, data, headers));
        }
        catch (SwitchboardException ex)
        {
            Log.MirrorRefused(link.Member, sender, ex.Message);
        }
    }

    /// <summary>ADD_SENDER from another node: its sender gets a mirror here (or keeps the one it has).</summary>
    private ValueTask AddMirror(NodeLink link, ReadOnlySpan<byte> body)
    {
        var add = Frames.ReadAddSender(body);
        return new ValueTask(AddMirrorAsync(link, new SenderInfo(add.Name, add.Events, add.Requests, add.HasDefault), add.WillEvent, add.WillData, add.Correlation));
    }

    private async Task AddMirrorAsync(NodeLink link, SenderInfo info, string? will, Payload willData, uint correlation)
    {
        await AddMirrorAsync(link, info, will, willData);
        if (correlation != 0)
        {
            link.Write(correlation, static (output, crc, in c) => Frames.Ok(output, crc, c));
        }
    }

    private async Task AddMirrorAsync(NodeLink link, SenderInfo info, string? will, Payload willData)
    {
        link.Confirm(info.Name);
        if (link.Mirrors.TryGetValue(info.Name, out var known))
        {
            if (known.Registration.Info.Events.SequenceEqual(info.Events) && known.Registration.Info.Requests.SequenceEqual(info.Requests)
                && known.Registration.Info.HasDefaultHandler == info.HasDefaultHandler)
            {
                return; // a state repeated what this node knows
            }

            await RemoveMirrorAsync(link, info.Name, DisconnectReason.Closed);
        }

        RequestHandler forward = (request, cancellationToken) => AskAsync(link, request, cancellationToken);
        var handlers = info.Requests.ToDictionary(r => r, _ => forward, StringComparer.Ordinal);
        try
        {
            var registration = await Router.AddSenderAsync(link.Session, info.Name, [.. info.Events], handlers, new SenderOptions { DefaultRequestHandler = info.HasDefaultHandler ? forward : null });
            link.Mirrors[info.Name] = new Mirror(registration, will, willData);
            _mirrorOwners[info.Name] = link;
        }
        catch (SwitchboardException ex)
        {
            Log.MirrorRefused(link.Member, info.Name, ex.Message);
        }
    }

    private ValueTask OnSenderGone(NodeLink link, ReadOnlySpan<byte> body)
    {
        var r = new SpanReader(body, NodeFrames.SenderGone);
        var correlation = r.U32("correlation");
        var name = r.RequiredString("name");
        var reason = (DisconnectReason)r.U8("reason");
        r.End();
        return new ValueTask(RemoveThenConfirmAsync(link, name, reason, correlation));
    }

    private async Task RemoveThenConfirmAsync(NodeLink link, string name, DisconnectReason reason, uint correlation)
    {
        await RemoveMirrorAsync(link, name, reason);
        if (correlation != 0)
        {
            link.Write(correlation, static (output, crc, in c) => Frames.Ok(output, crc, c));
        }
    }

    /// <summary>A remote sender left (or its node did): its mirror leaves with the same reason; when its node was lost,
    /// this node raises its last will first.</summary>
    private async ValueTask RemoveMirrorAsync(NodeLink link, string name, DisconnectReason reason)
    {
        if (!link.Mirrors.TryGetValue(name, out var mirror))
        {
            return;
        }

        if (reason == DisconnectReason.NodeLost && mirror.WillEvent is { } will && !mirror.Registration.IsClosed)
        {
            await mirror.Registration.RaiseAsync(will, mirror.WillData);
        }

        await Router.RemoveSenderAsync(mirror.Registration, reason);
        ForgetMirror(mirror.Registration);
    }

    /// <summary>A mirror left the router (removed here, or its link's session closed).</summary>
    private void ForgetMirror(SenderRegistration registration)
    {
        if (_linkSessions.TryGetValue(registration.Session, out var link)
            && link.Mirrors.TryGetValue(registration.Name, out var mirror) && mirror.Registration == registration)
        {
            link.Mirrors.TryRemove(new KeyValuePair<string, Mirror>(registration.Name, mirror));
            _mirrorOwners.TryRemove(new KeyValuePair<string, NodeLink>(registration.Name, link));
        }
    }

    private static void OnListen(NodeLink link, ReadOnlySpan<byte> body)
    {
        var r = new SpanReader(body, FrameType.Listen);
        var correlation = r.U32("correlation");
        var id = r.U32("subscription");
        var sender = r.String("sender", emptyIsNull: true);
        var pattern = r.String("pattern", emptyIsNull: true);
        _ = r.String("group");
        _ = r.U8("retained");
        r.End();
        link.AddInterest(id, sender, pattern);
        if (correlation != 0)
        {
            link.Write(correlation, static (output, crc, in c) => Frames.Ok(output, crc, c));
        }
    }

    private async ValueTask EndStateAsync(NodeLink link)
    {
        EndProducerState(link);
        foreach (var name in link.EndState())
        {
            await RemoveMirrorAsync(link, name, DisconnectReason.Closed);
        }

        // Values retained before this node knew of that node's senders travelled when they were set, so not here.
        link.Write(0, static (output, crc, in _) => NodeFrames.WriteRetainedAsk(output));
    }

    /// <summary>RETAINED_ASK: this node's own retained values, to that node, under the router's lock, which orders them
    /// with every later value (<see cref="IRouterCluster.Retained"/> writes under it too): none can arrive stale.</summary>
    private void ReplayRetained(NodeLink link) => Router.ForEachRetained((Node: this, Link: link), static (to, message) =>
    {
        if (to.Node.IsOwnRetained(message))
        {
            to.Link.Write(message, static (output, crc, in m) => NodeFrames.WriteMessage(output, NodeFrames.Retain, m));
        }
    });

    private async Task ReadControlAsync(ChannelMessageQueue queue)
    {
        try
        {
            while (true)
            {
                var message = await queue.ReadAsync(_stopping.Token);
                await OnControlAsync((ReadOnlyMemory<byte>)message.Message);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
        {
        }
    }

    /// <summary>HELLO: a node (re)joined (it gets this node's state); GOING_AWAY: a node leaves cleanly.</summary>
    private async Task OnControlAsync(ReadOnlyMemory<byte> message)
    {
        try
        {
            if (ReadControl(message) is not { } control || control.Member == Member)
            {
                return;
            }

            var known = _links.TryGetValue(control.Member, out var link);
            if (control.Leaving)
            {
                if (known)
                {
                    await DropLinkAsync(link!, DisconnectReason.Closed);
                }
            }
            else if (!known)
            {
                LinkTo(control.Member);
            }
            else if (control.Resync)
            {
                WriteState(link!, reply: false);
            }
        }
        catch (Exception ex) when (ex is ProtocolException or SwitchboardException)
        {
            Log.InboundFailed(ex, "(control channel)");
        }
    }

    private (string Member, bool Resync, bool Leaving)? ReadControl(ReadOnlyMemory<byte> message)
    {
        var frames = new ReadOnlySequence<byte>(message);
        if (!_controlParser.TryReadFrame(ref frames, out var type, out var body))
        {
            return null;
        }

        var r = new SpanReader(body.Span, type);
        if (type == FrameType.GoingAway)
        {
            return (r.RequiredString("reason"), false, true);
        }

        if (type != FrameType.Hello)
        {
            return null;
        }

        _ = r.U16("version");
        var member = r.RequiredString("client");
        _ = r.String("credentials");
        return (member, (r.U32("features") & NodeFrames.HelloResync) != 0, false);
    }
}
