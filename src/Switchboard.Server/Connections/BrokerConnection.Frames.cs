using Switchboard.Routing;
using Switchboard.Wire;

namespace Switchboard.Server;

/// <summary>What each client frame does. Parsing errors are <see cref="ProtocolException"/>s and close the connection;
/// refusals (a taken name, an undeclared event) are correlated ERROR frames and the connection stays.</summary>
internal sealed partial class BrokerConnection
{
    private ValueTask Dispatch(FrameType type, ReadOnlyMemory<byte> frame)
    {
        if (type == FrameType.Trigger && _session is not null)
        {
            return OnTrigger(frame);
        }

        var body = frame.Span;
        if (_session is null)
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
                var list = Read(body, type);
                var listCorrelation = list.U32("correlation");
                list.End();
                Writer.Write(Lane.Data, (listCorrelation, Router.GetSenders()), static (output, crc, in l) => Frames.SenderList(output, crc, l.listCorrelation, l.Item2));

                return default;
            case FrameType.Flush:
                var flush = Read(body, type);
                var flushCorrelation = flush.U32("correlation");
                flush.End();
                SendOk(flushCorrelation);
                return default;
            case FrameType.Goodbye:
                _goodbye = true;
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

    private static string Describe(FrameType type) => Enum.IsDefined(type) ? $"{type} (0x{(byte)type:x2})" : $"0x{(byte)type:x2}";

    private ValueTask OnHello(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.Hello);
        var version = r.U16("version");
        var client = r.String("client") ?? string.Empty;
        var credentials = r.String("credentials", emptyIsNull: true);
        var features = r.U32("features");
        _ = r.U32("heartbeat");
        r.End();
        if (version != Protocol.Version)
        {
            throw new ProtocolException(ErrorCodes.UnsupportedVersion, $"This broker speaks protocol version {Protocol.Version}; the client sent version {version}.");
        }

        if (_broker.IsShuttingDown)
        {
            throw new ProtocolException(ErrorCodes.GoingAway, "This broker is shutting down; connect to another one.");
        }

        if (_broker.Options.Authenticate?.Invoke(client, credentials) is { } refusal)
        {
            throw new CredentialsRefusedException(refusal);
        }

        ClientName = client.Length == 0 ? Id : client;
        Writer.Crc = (features & Protocol.FeatureCrc) != 0;
        _session = Router.OpenSession(ClientName);
        Writer.Write(Lane.Control, _broker.Options, static (output, crc, in o) => Frames.Welcome(output, crc, Protocol.Version, o.ServerName, Protocol.FeatureCrc, (uint)o.HeartbeatInterval.TotalMilliseconds, (uint)o.MaxFrameSize));

        _broker.Log.ClientJoined(Id, _context.RemoteEndPoint?.ToString() ?? "unix socket", ClientName);
        return default;
    }

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

        _messagesIn++;
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
        if (count == 0)
        {
            SendError(0, fatal: false, ErrorCodes.InvalidArgument, $"A TRIGGER of sender '{sender}' named no event; name at least one.");
            return default;
        }

        if (!_senders.TryGetValue(sender, out var registration))
        {
            SendError(0, fatal: false, ErrorCodes.UnknownSender, $"This connection has not registered the sender '{sender}'; register it (ADD_SENDER) before triggering its events. The broker stamps the sender, so a connection can only trigger its own.");
            return default;
        }

        var retain = (flags & Protocol.TriggerRetain) != 0;
        try
        {
            _messagesIn += count;
            var pending = count == 1
                ? registration.TriggerAsync(events[0], data, headers, retain)
                : registration.TriggerAsync(events, data, headers, retain);
            return pending.IsCompletedSuccessfully ? default : GuardAsync(pending, 0);
        }
        catch (SwitchboardException ex)
        {
            SendError(0, fatal: false, ex.Code, ex.Message);
            return default;
        }
    }

    private ValueTask OnAddSender(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.AddSender);
        var correlation = r.U32("correlation");
        var name = r.RequiredString("name");
        var events = r.Strings("events");
        var requests = r.Strings("requests");
        var hasDefault = r.U8("has default") != 0;
        var will = r.String("will event", emptyIsNull: true);
        var willData = r.Payload("will data");
        r.End();
        return GuardAsync(AddSenderAsync(correlation, name, events, requests, hasDefault, will, willData), correlation);
    }

    private async ValueTask AddSenderAsync(uint correlation, string name, string[] events, string[] requests, bool hasDefault, string? will, Payload willData)
    {
        var forward = _forwardRequests;
        var handlers = new Dictionary<string, RequestHandler>(StringComparer.Ordinal);
        foreach (var request in requests)
        {
            handlers[request] = forward;
        }

        var options = new SenderOptions { DefaultRequestHandler = hasDefault ? forward : null, WillEvent = will, WillData = willData };
        var registration = await Router.AddSenderAsync(_session!, name, events, handlers, options);
        _senders[name] = registration;
        SendOk(correlation);
    }

    private ValueTask OnRemoveSender(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.RemoveSender);
        var correlation = r.U32("correlation");
        var name = r.RequiredString("name");
        r.End();
        if (!_senders.TryRemove(name, out var registration))
        {
            SendError(correlation, fatal: false, ErrorCodes.UnknownSender, $"This connection has no sender named '{name}'.");
            return default;
        }

        return GuardAsync(RemoveAsync(registration, correlation), correlation);

        async ValueTask RemoveAsync(SenderRegistration sender, uint id)
        {
            await sender.DisposeAsync();
            SendOk(id);
        }
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
            Router.ValidateSubscription(sender, pattern);
            var subscription = new RemoteSubscription(this, id, sender, pattern, group);
            if (!_subscriptions.TryAdd(id, subscription))
            {
                throw new SwitchboardException(ErrorCodes.InvalidArgument, $"Subscription id {id} is already in use on this connection.");
            }

            try
            {
                await Router.AddSubscriptionAsync(_session!, subscription, retained);
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
        var timeout = timeoutMs == 0 ? (TimeSpan?)null : TimeSpan.FromMilliseconds(timeoutMs);
        RequestHandler handler;
        TimeSpan wait;
        try
        {
            handler = Router.FindRequestHandler(sender, request, timeout, out wait);
        }
        catch (SwitchboardException ex)
        {
            SendReply(id, ex.Code, ex.Message, default);
            return default;
        }

        if (handler.Target is BrokerConnection answerer && ReferenceEquals(handler, answerer._forwardRequests))
        {
            // Client to client: the broker only relays (see ForwardedRequest).
            answerer.Forward(this, id, sender, request, headers, data, wait);
            return default;
        }

        data = data.Detach(); // the router's path keeps it past this frame
        _ = AnswerAsync();
        return default;

        async Task AnswerAsync()
        {
            try
            {
                var answer = await Router.RequestAsync(sender, request, data, timeout, headers, _closing.Token);
                SendReply(id, null, null, answer);
            }
            catch (SwitchboardException ex)
            {
                SendReply(id, ex.Code, ex.Message, default);
            }
            catch (OperationCanceledException)
            {
                // The asker's connection closed; nobody is left to answer.
            }
        }
    }

    private ValueTask OnReply(ReadOnlyMemory<byte> frame)
    {
        var (id, ok, code, message, data) = Frames.ReadReply(frame, lend: true); // the data is copied where it is kept
        if (TryEndForwarded(id, null, out var forwarded))
        {
            if (ok)
            {
                forwarded.Asker.SendReply(forwarded.AskerId, null, null, data);
            }
            else if (code is ErrorCodes.HandlerError or "" or null)
            {
                forwarded.Fail(message ?? "the handler failed");
            }
            else
            {
                // Another code (a bridge's mirror relaying no_sender, timeout...) reaches the asker as it came.
                forwarded.Asker.SendReply(forwarded.AskerId, code, message ?? code, default);
            }

            ReturnForwarded(forwarded);
        }
        else if (_awaitingReply.TryRemove(id, out var pending))
        {
            if (ok)
            {
                pending.TrySetResult(data.Detach());
            }
            else if (code is ErrorCodes.HandlerError or "" or null)
            {
                // The router words it as "Sender 's' failed to answer 'r': <message>".
                pending.TrySetException(new RemoteHandlerException(message ?? "the handler failed"));
            }
            else
            {
                pending.TrySetException(new SwitchboardException(code, message ?? code));
            }
        }

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
        try
        {
            var producer = Router.AddProducer(_session!, topics, ForwardProduce, new ProducerOptions { Name = name, Group = group });
            _producers[producer.Name] = producer;
            SendOk(correlation, producer.Name);
        }
        catch (SwitchboardException ex)
        {
            SendError(correlation, fatal: false, ex.Code, ex.Message);
        }

        return default;
    }

    private ValueTask OnProducerTopic(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.ProducerTopic);
        var correlation = r.U32("correlation");
        var name = r.RequiredString("producer");
        var add = r.U8("add") != 0;
        var topic = r.RequiredString("topic");
        r.End();
        try
        {
            if (!_producers.TryGetValue(name, out var producer))
            {
                throw new SwitchboardException(ErrorCodes.UnknownProducer, $"This connection has no producer named '{name}'.");
            }

            Router.ChangeProducerTopic(producer, topic, add);
            SendOk(correlation);
        }
        catch (SwitchboardException ex)
        {
            SendError(correlation, fatal: false, ex.Code, ex.Message);
        }

        return default;
    }

    private ValueTask OnRemoveProducer(ReadOnlySpan<byte> body)
    {
        var r = Read(body, FrameType.RemoveProducer);
        var correlation = r.U32("correlation");
        var name = r.RequiredString("name");
        r.End();
        if (_producers.TryRemove(name, out var producer))
        {
            Router.RemoveProducer(producer);
            SendOk(correlation);
        }
        else
        {
            SendError(correlation, fatal: false, ErrorCodes.UnknownProducer, $"This connection has no producer named '{name}'.");
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
        LocalGather gather;
        try
        {
            gather = Router.StartGather(topic, data, TimeSpan.FromMilliseconds(ttlMs), headers, _closing.Token);
        }
        catch (SwitchboardException ex)
        {
            SendError(id, fatal: false, ex.Code, ex.Message);
            return default;
        }

        var call = gather.Call;
        gather.OnLate = late =>
        {
            Writer.Write(Lane.Data, (id, (uint)late), static (output, crc, in l) => Frames.GatherLate(output, crc, l.id, l.Item2));
        };
        _ = PumpAsync();
        return default;

        async Task PumpAsync()
        {
            await foreach (var result in call)
            {
                Writer.Write(Lane.Data, (id, result), static (output, crc, in r) => Frames.GatherResult(output, crc, r.id, r.result.Producer, r.result.Data));
            }

            var summary = await call.Summary;
            Writer.Write(Lane.Data, (id, summary), static (output, crc, in d) => Frames.GatherDone(output, crc, d.id, d.summary));
        }
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
            var listener = Router.AddResultListener(_session!, topic, (message, _) =>
            {
                Writer.Write(Lane.Data, (id, message), static (output, crc, in e) => Frames.Event(output, crc, e.id, e.message.Sender, e.message.Event, e.message.Headers, e.message.Data));
                return default;
            }, null);
            if (!_subscriptions.TryAdd(id, listener))
            {
                _ = listener.CloseAsync(null);
                throw new SwitchboardException(ErrorCodes.InvalidArgument, $"Subscription id {id} is already in use on this connection.");
            }

            SendOk(correlation);
        }
        catch (SwitchboardException ex)
        {
            SendError(correlation, fatal: false, ex.Code, ex.Message);
        }

        return default;
    }

    private ValueTask<Payload> AskClientAsync(BusRequest request, CancellationToken cancellationToken) =>
        AskClientAsync(FrameType.RequestIn, request.Sender, request.Name, request.Headers, request.Data, cancellationToken);

    /// <summary>Relays a request from another client to this one (see <see cref="ForwardedRequest"/>).</summary>
    private void Forward(BrokerConnection asker, uint askerId, string sender, string request, MessageHeaders headers, Payload data, TimeSpan wait)
    {
        var forwarded = RentForwarded();
        uint id;
        lock (_forwarded)
        {
            if (_forwardingClosed)
            {
                id = 0; // this connection's close already ended its relayed requests: none may start now
            }
            else
            {
                // Counted and findable before the timer can fire: a timeout that ran before the entry existed would be
                // lost. Ids wrap after 2^32; one still waiting (a request may wait ~49 days) is skipped, never replaced.
                do
                {
                    id = Interlocked.Increment(ref _nextOutgoingId);
                }
                while (id == 0 || _forwarded.ContainsKey(id) || _awaitingReply.ContainsKey(id));

                forwarded.Prepare(asker, askerId, id, sender, request, wait);
                _forwarded.Add(id, forwarded);
                Interlocked.Increment(ref _forwardedCount);
                Interlocked.Increment(ref asker._askedCount);
            }
        }

        if (id != 0)
        {
            forwarded.Arm();
            if (Writer.Write(Lane.Data, (id, sender, request, headers, data), static (output, crc, in q) => Frames.Incoming(output, crc, FrameType.RequestIn, q.id, q.sender, q.request, q.headers, q.data)))
            {
                return;
            }

            if (!TryEndForwarded(id, forwarded, out _))
            {
                return; // ended meanwhile by whoever removed it (its timeout, the close sweep)
            }
        }

        var error = Router.HandlerFailed(sender, request, $"The connection of client '{ClientName}' is closing.");
        asker.SendReply(askerId, error.Code, error.Message, default);
        ReturnForwarded(forwarded);
    }

    /// <summary>Ends a relayed request: true for the one caller that removes it from the table, which then answers the
    /// asker and hands it back with <see cref="ReturnForwarded"/>. With <paramref name="expected"/>, only if the entry is
    /// that object (a timer left over from an earlier use must not end another request).</summary>
    internal bool TryEndForwarded(uint id, ForwardedRequest? expected, out ForwardedRequest forwarded)
    {
        lock (_forwarded)
        {
            if (!_forwarded.TryGetValue(id, out forwarded!) || (expected is not null && forwarded != expected))
            {
                return false;
            }

            _forwarded.Remove(id);
        }

        OnForwardedEnded(forwarded);
        return true;
    }

    /// <summary>The bookkeeping of a relayed request taken out of the table: counts, and its timer stopped.</summary>
    private void OnForwardedEnded(ForwardedRequest forwarded)
    {
        Interlocked.Decrement(ref _forwardedCount);
        forwarded.Disarm();
        forwarded.Asker.OnAskedEnded();
    }

    private ForwardedRequest RentForwarded()
    {
        lock (_forwardedPool)
        {
            if (_forwardedPool.TryPop(out var pooled))
            {
                return pooled;
            }
        }

        return new ForwardedRequest(this, Time);
    }

    /// <summary>Keeps an ended relayed request for the next one (its timer too); beyond the pool's bound, or once the
    /// connection is closing, its timer is disposed.</summary>
    internal void ReturnForwarded(ForwardedRequest forwarded)
    {
        lock (_forwardedPool)
        {
            if (!_forwardedPoolClosed && _forwardedPool.Count < MaxPooledForwarded)
            {
                forwarded.Clear(); // holds no asker connection or names while it waits
                _forwardedPool.Push(forwarded);
                return;
            }
        }

        forwarded.Dispose();
    }

    private void CloseForwardedPool()
    {
        lock (_forwardedPool)
        {
            _forwardedPoolClosed = true;
            while (_forwardedPool.TryPop(out var pooled))
            {
                pooled.Dispose();
            }
        }
    }

    /// <summary>Requests relayed from other clients to this one, not ended yet.</summary>
    internal int ForwardedCount => Volatile.Read(ref _forwardedCount);

    /// <summary>Requests this client asked of other clients, not ended yet.</summary>
    internal int AskedCount => Volatile.Read(ref _askedCount);

    /// <summary>Called by <see cref="ForwardedRequest"/> when one this client asked ends.</summary>
    internal void OnAskedEnded() => Interlocked.Decrement(ref _askedCount);

    /// <summary>The asker left: its requests relayed to this client end now (an answer that still comes is dropped),
    /// so an asker that leaves many unanswered requests does not leave them held until their timeouts.</summary>
    internal void DropRequestsFrom(BrokerConnection asker)
    {
        foreach (var forwarded in EndForwarded(static (request, asker) => request.Asker == asker, asker, close: false))
        {
            ReturnForwarded(forwarded);
        }
    }

    /// <summary>Ends every relayed request that <paramref name="match"/> picks (see <see cref="TryEndForwarded"/>); with
    /// <paramref name="close"/>, no request can be relayed to this connection afterwards.</summary>
    private List<ForwardedRequest> EndForwarded(Func<ForwardedRequest, BrokerConnection, bool> match, BrokerConnection argument, bool close)
    {
        var ended = new List<ForwardedRequest>();
        lock (_forwarded)
        {
            _forwardingClosed |= close;
            foreach (var (id, forwarded) in _forwarded)
            {
                if (match(forwarded, argument))
                {
                    ended.Add(forwarded);
                    _forwarded.Remove(id);
                }
            }
        }

        foreach (var forwarded in ended)
        {
            OnForwardedEnded(forwarded);
        }

        return ended;
    }

    // The gather's end does not cancel the wait: a result that still arrives must be counted as late, not lost silently.
    // The connection closing ends the wait in any case.
    private ValueTask<Payload> ForwardProduce(GatherRequest request, CancellationToken cancellationToken) =>
        AskClientAsync(FrameType.ProduceIn, request.Producer, request.Topic, request.Headers, request.Data, _closing.Token);

    /// <summary>Sends a REQUEST_IN or PRODUCE_IN to this client and waits for its REPLY.</summary>
    private async ValueTask<Payload> AskClientAsync(FrameType type, string target, string name, MessageHeaders headers, Payload data, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _nextOutgoingId);
        var pending = new TaskCompletionSource<Payload>(TaskCreationOptions.RunContinuationsAsynchronously);
        _awaitingReply[id] = pending;
        try
        {
            if (!Writer.Write(Lane.Data, (type, id, target, name, headers, data), static (output, crc, in q) => Frames.Incoming(output, crc, q.type, q.id, q.target, q.name, q.headers, q.data)))
            {
                throw new SwitchboardException(ErrorCodes.Closed, $"The connection of client '{ClientName}' is closing.");
            }

            using var registration = cancellationToken.Register(static state => ((TaskCompletionSource<Payload>)state!).TrySetCanceled(), pending);
            return await pending.Task;
        }
        finally
        {
            _awaitingReply.TryRemove(id, out _);
        }
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
