using Switchboard.Routing;
using Switchboard.Wire;

namespace Switchboard.Server;

/// <summary>What each client frame does. Parsing errors are <see cref="ProtocolException"/>s and close the connection;
/// refusals (a taken name, an undeclared event) are correlated ERROR frames and the connection stays.</summary>
internal sealed partial class BinaryPeer
{
    private ValueTask Dispatch(FrameType type, ReadOnlyMemory<byte> frame)
    {
        if (type == FrameType.Trigger && Session is not null)
        {
            return OnTrigger(frame);
        }

        var body = frame.Span;
        if (Session is null)
        {
            return type == FrameType.Hello
                ? OnHello(body)
                : throw new ProtocolException(ErrorCodes.UnexpectedFrame, $"The first frame must be HELLO (0x01); got {Describe(type)}.");
        }

        switch (type)
        {
            case FrameType.Ping:
                var ping = Read(body, type);
                var nonce = ping.U64("nonce");
                ping.End();
                Writer.Write(Lane.Control, nonce, static (output, crc, in n) => Frames.PingPong(output, crc, FrameType.Pong, n));

                return default;
            case FrameType.Pong:
                return default;
            case FrameType.AddSender:
                return OnAddSender(body);
            case FrameType.RemoveSender:
                return OnRemoveSender(body);
            case FrameType.Listen:
                return OnListen(body);
            case FrameType.Unlisten:
                return OnUnlisten(body);
            case FrameType.Request:
                return OnRequest(frame);
            case FrameType.Reply:
                return OnReply(frame);
            case FrameType.AddProducer:
                return OnAddProducer(body);
            case FrameType.RemoveProducer:
                return OnRemoveProducer(body);
            case FrameType.ProducerTopic:
                return OnProducerTopic(body);
            case FrameType.Gather:
                return OnGather(body);
            case FrameType.ListenResults:
                return OnListenResults(body);
            case FrameType.ListSenders:
                return OnListSenders(body);
            case FrameType.Flush:
                var flush = Read(body, type);
                var flushCorrelation = flush.U32("correlation");
                flush.End();
                return OkAcrossCluster(flushCorrelation, null);
            case FrameType.Goodbye:
                Stop("goodbye", clean: true);
                return default;
            case FrameType.Hello:
                throw new ProtocolException(ErrorCodes.UnexpectedFrame, "HELLO was already received on this connection.");
            default:
                throw Enum.IsDefined(type)
                    ? new ProtocolException(ErrorCodes.UnexpectedFrame, $"{Describe(type)} is sent by brokers, not by clients.")
                    : new ProtocolException(ErrorCodes.UnknownFrame, $"Unknown frame type 0x{(byte)type:x2}.");
        }
    }

    private static SpanReader Read(ReadOnlySpan<byte> body, FrameType type) => new(body, type);

    /// <summary>OK; in a cluster, once every other node has processed what this one sent it before (FLUSH, and the
    /// producer and result-listener changes the nodes learn of asynchronously), so the client cannot tell.</summary>
    private ValueTask OkAcrossCluster(uint correlation, string? detail)
    {
        var known = WhenClusterKnows();
        if (known.IsCompletedSuccessfully)
        {
            SendOk(correlation, detail);
            return default;
        }

        return OkAfterAsync(known, correlation, detail);
    }

    private async ValueTask OkAfterAsync(ValueTask known, uint correlation, string? detail)
    {
        await known;
        SendOk(correlation, detail);
    }

    private static string Describe(FrameType type) => Enum.IsDefined(type) ? $"{type} (0x{(byte)type:x2})" : $"0x{(byte)type:x2}";

    private ValueTask OnHello(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.Hello);
        var version = r.U16("version");
        var client = r.String("client") ?? string.Empty;
        var credentials = r.String("credentials", emptyIsNull: true);
        var features = r.U32("features");
        _ = r.U32("heartbeat");
        var maxFrameSize = r.Remaining > 0 ? r.U32("max frame size") : 0;
        r.End();
        if (version != Protocol.Version)
        {
            throw new ProtocolException(ErrorCodes.UnsupportedVersion, $"This broker speaks protocol version {Protocol.Version}; the client sent version {version}.");
        }

        Writer.PeerMaxFrameSize = PeerMaxFrameSize(maxFrameSize);
        _pagedLists = (features & Protocol.FeaturePagedLists) != 0;
        return WelcomeAsync(client, credentials, (features & Protocol.FeatureCrc) != 0);
    }

    /// <summary>Admits the client (its credentials may take a moment: a password's PBKDF2, a JWT's signature), then
    /// answers WELCOME; frames pipelined behind HELLO wait for it, in order.</summary>
    private async ValueTask WelcomeAsync(string client, string? credentials, bool crc)
    {
        await AdmitAsync(client, credentials);
        Writer.Crc = crc;
        Writer.Write(Lane.Control, Broker.Options, static (output, crc, in o) => Frames.Welcome(output, crc, Protocol.Version, o.ServerName, Protocol.FeatureCrc, (uint)o.HeartbeatInterval.TotalMilliseconds, (uint)o.MaxFrameSize));
    }

    /// <summary>A client that does not say takes the documented default (1 MiB); less than 64 KiB is refused.</summary>
    private static int PeerMaxFrameSize(uint announced) => announced switch
    {
        0 => Protocol.DefaultMaxFrameSize,
        < Protocol.MinPeerMaxFrameSize => throw new ProtocolException(ErrorCodes.InvalidArgument,
            $"HELLO's max frame size is {announced}; a client must accept frames of at least {Protocol.MinPeerMaxFrameSize} bytes."),
        > int.MaxValue => int.MaxValue,
        _ => (int)announced,
    };

    /// <summary>
    /// The hot path. Sender and event are looked up by their characters (decoded on the stack), the payload stays a view
    /// into the receive buffer (borrowed: the read loop does not advance past it until delivery is done, and targets
    /// that keep messages copy it), and headers are only allocated when there are some: a trigger allocates nothing.
    /// </summary>
    private ValueTask OnTrigger(ReadOnlyMemory<byte> frame)
    {
        var r = Read(frame.Span, FrameType.Trigger);
        var senderBytes = r.StringBytes("sender");
        var flags = r.U8("flags");
        var count = r.U16("event count");
        if (count != 1 || senderBytes.Length > MaxStackName)
        {
            return OnTriggerSlow(frame.Span);
        }

        var eventBytes = r.StringBytes("event");
        var headers = r.Headers("headers");
        var data = r.LentPayload("data", frame);
        r.End();
        Span<char> senderChars = stackalloc char[senderBytes.Length];
        Span<char> eventChars = stackalloc char[Math.Min(eventBytes.Length, MaxStackName)];
        if (eventBytes.Length > MaxStackName
            || System.Text.Unicode.Utf8.ToUtf16(senderBytes, senderChars, out _, out var senderLength, replaceInvalidSequences: false) != System.Buffers.OperationStatus.Done
            || System.Text.Unicode.Utf8.ToUtf16(eventBytes, eventChars, out _, out var eventLength, replaceInvalidSequences: false) != System.Buffers.OperationStatus.Done
            || !_sendersByChars.TryGetValue(senderChars[..senderLength], out var registration)
            || registration.IsClosed
            || !registration.TryGetSlot(eventChars[..eventLength], out var slot))
        {
            return OnTriggerSlow(frame.Span);
        }

        if ((flags & Protocol.TriggerRetain) != 0)
        {
            try
            {
                Router.Retain(new BusMessage(registration.Name, slot.Event, data, headers) { IsBorrowed = true });
            }
            catch (SwitchboardException ex)
            {
                SendError(0, fatal: false, ex.Code, ex.Message);
                return default;
            }
        }

        CountIn(1);
        var pending = slot.DeliverAsync(data, headers, borrowed: true);
        return pending.IsCompletedSuccessfully ? default : GuardAsync(pending, 0);
    }

    /// <summary>Names longer than this are not decoded on the stack (they are invalid anyway: names are at most 256 ASCII characters).</summary>
    private const int MaxStackName = 512;

    /// <summary>Several events, an unknown sender or event: the general path, which allocates and explains refusals.</summary>
    private ValueTask OnTriggerSlow(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.Trigger);
        var sender = r.RequiredString("sender");
        var flags = r.U8("flags");
        var count = r.U16("event count");
        var events = new string[count];
        for (var i = 0; i < count; i++)
        {
            events[i] = r.RequiredString("event");
        }

        var headers = r.Headers("headers");
        var data = r.Payload("data");
        r.End();
        try
        {
            var pending = Trigger(sender, events, data, headers, (flags & Protocol.TriggerRetain) != 0, "register it (ADD_SENDER) before triggering its events.");
            return pending.IsCompletedSuccessfully ? default : GuardAsync(pending, 0);
        }
        catch (SwitchboardException ex)
        {
            SendError(0, fatal: false, ex.Code, ex.Message);
            return default;
        }
    }

    private ValueTask OnListSenders(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.ListSenders);
        var correlation = r.U32("correlation");
        r.End();
        try
        {
            AdmitRequest();
        }
        catch (SwitchboardException ex)
        {
            SendError(correlation, fatal: false, ex.Code, ex.Message);
            return default;
        }

        var pages = new List<SenderPage>(1);
        if (!SenderPages.TrySplit(Router.GetSenders(), Writer.PeerMaxFrameSize, _pagedLists, pages, out var problem))
        {
            SendError(correlation, fatal: false, ErrorCodes.MessageTooLarge, problem!);
            return default;
        }

        foreach (var page in pages)
        {
            if (Writer.Write(Lane.Data, (correlation, page), static (output, crc, in l) => Frames.SenderList(output, crc, l.correlation, l.page)) != WriteOutcome.Written)
            {
                break; // closing, or past its headroom (and being cut): the rest would not be read either
            }
        }

        return default;
    }

    private ValueTask OnAddSender(ReadOnlySpan<byte> body)
    {
        var add = Frames.ReadAddSender(body);
        return GuardAsync(ThenOk(AddSenderAsync(add.Name, add.Events, add.Requests, add.HasDefault, add.WillEvent, add.WillData), add.Correlation), add.Correlation);
    }

    private ValueTask OnRemoveSender(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.RemoveSender);
        var correlation = r.U32("correlation");
        var name = r.RequiredString("name");
        r.End();
        return GuardAsync(ThenOk(RemoveSenderAsync(name), correlation), correlation);
    }

    /// <summary>Answers OK once <paramref name="pending"/> succeeded (a refusal goes on to <see cref="GuardAsync"/>).</summary>
    private async ValueTask ThenOk(ValueTask pending, uint correlation)
    {
        await pending;
        SendOk(correlation);
    }

    private ValueTask OnListen(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.Listen);
        var correlation = r.U32("correlation");
        var id = r.U32("subscription");
        var sender = r.String("sender", emptyIsNull: true);
        var pattern = r.String("pattern", emptyIsNull: true);
        var group = r.String("group", emptyIsNull: true);
        var retained = (r.U8("flags") & 1) != 0;
        r.End();
        return GuardAsync(ListenAsync(), correlation);

        async ValueTask ListenAsync()
        {
            ValidateListen(sender, pattern);
            EnsureRoom(_subscriptions.Count, Broker.Options.MaxSubscriptionsPerConnection, "listens", "BrokerOptions.MaxSubscriptionsPerConnection");
            var subscription = new RemoteSubscription(this, id, sender, pattern, group);
            if (!_subscriptions.TryAdd(id, subscription))
            {
                throw new SwitchboardException(ErrorCodes.InvalidArgument, $"Subscription id {id} is already in use on this connection.");
            }

            try
            {
                await Router.AddSubscriptionAsync(Admitted, subscription, retained);
            }
            catch
            {
                _subscriptions.TryRemove(id, out _);
                throw;
            }

            SendOk(correlation);
        }
    }

    private ValueTask OnUnlisten(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.Unlisten);
        var correlation = r.U32("correlation");
        var id = r.U32("subscription");
        r.End();
        if (!_subscriptions.TryRemove(id, out var subscription))
        {
            SendError(correlation, fatal: false, ErrorCodes.UnknownSubscription, $"This connection has no subscription {id}.");
            return default;
        }

        return GuardAsync(CloseAsync(), correlation);

        async ValueTask CloseAsync()
        {
            await subscription.CloseAsync(null);
            SendOk(correlation);
        }
    }

    private ValueTask OnRequest(ReadOnlyMemory<byte> frame)
    {
        // Names come from the connection's cache and the payload is lent from the receive buffer: a relayed request
        // copies it straight into the answerer's outbound buffer; only the router's path below takes a copy.
        var r = Read(frame.Span, FrameType.Request);
        var id = r.U32("request id");
        var sender = r.RequiredName("sender", _names);
        var request = r.RequiredName("request", _names);
        var timeoutMs = r.U32("timeout");
        var headers = r.Headers("headers");
        var data = r.LentPayload("data", frame);
        r.End();
        Ask(id, sender, request, timeoutMs == 0 ? null : TimeSpan.FromMilliseconds(timeoutMs), headers, data);
        return default;
    }

    private ValueTask OnReply(ReadOnlyMemory<byte> frame)
    {
        var (id, ok, code, message, data) = Frames.ReadReply(frame, lend: true); // the data is copied where it is kept
        _ = OnAnswer(id, ok, code, message, data); // an answer nothing waits for any more (timed out) is dropped
        return default;
    }

    private ValueTask OnAddProducer(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.AddProducer);
        var correlation = r.U32("correlation");
        var name = r.String("name", emptyIsNull: true);
        var group = r.String("group", emptyIsNull: true);
        var topics = r.Strings("topics");
        r.End();
        return Answer(correlation, () => AddProducer(name, group, topics));
    }

    private ValueTask OnProducerTopic(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.ProducerTopic);
        var correlation = r.U32("correlation");
        var name = r.RequiredString("producer");
        var add = r.U8("add") != 0;
        string[] topic = [r.RequiredString("topic")];
        r.End();
        return Answer(correlation, () =>
        {
            ChangeProducerTopics(name, add ? topic : [], add ? [] : topic);
            return null;
        });
    }

    private ValueTask OnRemoveProducer(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.RemoveProducer);
        var correlation = r.U32("correlation");
        var name = r.RequiredString("name");
        r.End();
        return Answer(correlation, () =>
        {
            RemoveProducer(name);
            return null;
        });
    }

    /// <summary>Runs a control call that answers at once: OK with its detail, or its refusal as a correlated ERROR.</summary>
    private ValueTask Answer(uint correlation, Func<string?> call)
    {
        try
        {
            return OkAcrossCluster(correlation, call());
        }
        catch (SwitchboardException ex)
        {
            SendError(correlation, fatal: false, ex.Code, ex.Message);
        }

        return default;
    }

    private ValueTask OnGather(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.Gather);
        var id = r.U32("gather id");
        var topic = r.RequiredString("topic");
        var ttlMs = r.U32("ttl");
        var headers = r.Headers("headers");
        var data = r.Payload("data");
        r.End();
        try
        {
            Gather(topic, data, TimeSpan.FromMilliseconds(ttlMs), headers, new GatherFrames(this, id));
        }
        catch (SwitchboardException ex)
        {
            SendError(id, fatal: false, ex.Code, ex.Message);
        }

        return default;
    }

    /// <summary>A gather's progress as GATHER_RESULT, GATHER_DONE and GATHER_LATE frames.</summary>
    private sealed class GatherFrames(BinaryPeer peer, uint id) : IGatherOutput
    {
        private readonly FrameWriter writer = peer.Writer;

        public void Result(GatherResult result)
        {
            if (writer.Write(Lane.Data, (id, result), static (output, crc, in r) => Frames.GatherResult(output, crc, r.id, r.result.Producer, r.result.Data)) == WriteOutcome.TooLarge)
            {
                peer.OnTooLargeForPeer();
            }
        }

        public void Done(GatherSummary summary) =>
            writer.Write(Lane.Data, (id, summary), static (output, crc, in d) => Frames.GatherDone(output, crc, d.id, d.summary));

        public void Late(int count) =>
            writer.Write(Lane.Data, (id, (uint)count), static (output, crc, in l) => Frames.GatherLate(output, crc, l.id, l.Item2));
    }

    private ValueTask OnListenResults(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.ListenResults);
        var correlation = r.U32("correlation");
        var id = r.U32("subscription");
        var topic = r.RequiredString("topic");
        r.End();
        try
        {
            ValidateResults(topic);
            EnsureRoom(_subscriptions.Count, Broker.Options.MaxSubscriptionsPerConnection, "listens", "BrokerOptions.MaxSubscriptionsPerConnection");
            var listener = Router.AddResultListener(Admitted, topic, (message, _) =>
            {
                if (Writer.Write(Lane.Data, (id, message), static (output, crc, in e) => Frames.Event(output, crc, e.id, e.message.Sender, e.message.Event, e.message.Headers, e.message.Data)) == WriteOutcome.TooLarge)
                {
                    OnTooLargeForPeer();
                }

                return default;
            }, null);
            if (!_subscriptions.TryAdd(id, listener))
            {
                _ = listener.CloseAsync(null);
                throw new SwitchboardException(ErrorCodes.InvalidArgument, $"Subscription id {id} is already in use on this connection.");
            }

            return OkAcrossCluster(correlation, null);
        }
        catch (SwitchboardException ex)
        {
            SendError(correlation, fatal: false, ex.Code, ex.Message);
        }

        return default;
    }

    /// <summary>Turns a refusal into a correlated ERROR frame; the connection stays.</summary>
    private async ValueTask GuardAsync(ValueTask pending, uint correlation)
    {
        try
        {
            await pending;
        }
        catch (Exception ex) when (ex is SwitchboardException and not ProtocolException)
        {
            SendError(correlation, fatal: false, ((SwitchboardException)ex).Code, ex.Message);
        }
    }
}
