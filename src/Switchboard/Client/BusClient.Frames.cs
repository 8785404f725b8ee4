using Switchboard.Client;
using Switchboard.Routing;
using Switchboard.Wire;

namespace Switchboard;

public sealed partial class BusClient
{
    private readonly NameCache _names = new();

    private ValueTask Dispatch(Connection connection, FrameType type, ReadOnlyMemory<byte> frame)
    {
        switch (type)
        {
            case FrameType.Event:
                return OnEvent(frame);
            case FrameType.Ok:
                var ok = Frames.ReadOk(frame.Span);
                Complete(ok.Correlation, ok.Detail);
                break;
            case FrameType.Error:
                OnError(connection, Frames.ReadError(frame.Span));
                break;
            case FrameType.Reply:
                OnReply(Frames.ReadReply(frame, lend: false));
                break;
            case FrameType.RequestIn or FrameType.ProduceIn:
                OnIncoming(Frames.ReadIncoming(type, frame.Span), type == FrameType.RequestIn);
                break;
            case FrameType.GatherResult:
                OnGatherResult(frame.Span);
                break;
            case FrameType.GatherDone:
                OnGatherDone(Frames.ReadGatherDone(frame.Span));
                break;
            case FrameType.GatherLate:
                OnGatherLate(frame.Span);
                break;
            case FrameType.SenderList:
                OnSenderList(frame.Span);
                break;
            case FrameType.Ping:
                OnPing(frame.Span);
                break;
            case FrameType.Pong:
                break;
            case FrameType.GoingAway:
                OnGoingAway(connection, frame.Span);
                break;
            default:
                throw new ProtocolException(ErrorCodes.UnexpectedFrame, $"The broker sent {type}, which only clients send.");
        }

        return default;
    }

    /// <summary>Handlers may block: they run on handler threads, never on this read loop. (A method of its own: the
    /// closure must not be allocated for every frame Dispatch reads.)</summary>
    private void OnIncoming(IncomingFrame incoming, bool isRequest) =>
        HandlerThreads.Run(_ => Track(isRequest ? AnswerAsync(incoming) : ProduceAsync(incoming), isRequest ? "request handler" : "producer"), null);

    private ValueTask OnEvent(ReadOnlyMemory<byte> frame)
    {
        // Names come from the cache and the payload is lent from the receive buffer (the listener copies it only if it
        // keeps it): a delivery allocates at most that copy.
        var r = new SpanReader(frame.Span, FrameType.Event);
        var id = r.U32("subscription");
        var sender = _names.Get(r.StringBytes("sender"));
        var @event = _names.Get(r.StringBytes("event"));
        var headers = r.Headers("headers");
        var data = r.LentPayload("data", frame);
        r.End();
        return _listeners.TryGetValue(id, out var listener)
            ? listener.Listener.DeliverAsync(new BusMessage(sender, @event, data, headers) { IsBorrowed = true })
            : default;
    }

    /// <summary>The broker sends the list in pages (this client asks for them in HELLO); the call completes with the last.</summary>
    private void OnSenderList(ReadOnlySpan<byte> body)
    {
        var page = Frames.ReadSenderList(body, paged: true, out var correlation, out var more);
        if (_senderPages.Remove(correlation, out var earlier))
        {
            earlier.AddRange(page);
            page = earlier;
        }

        if (more)
        {
            _senderPages[correlation] = page;
        }
        else
        {
            Complete(correlation, page);
        }
    }

    private void Complete(uint correlation, object? result)
    {
        if (_pending.TryRemove(correlation, out var call))
        {
            call.Complete(result);
        }
    }

    private void OnError(Connection connection, ErrorFrame error)
    {
        if (error.Correlation != 0 && _pending.TryRemove(error.Correlation, out var call))
        {
            call.Fail(ToException(call, error.Code, error.Message));
        }
        else
        {
            _log.BrokerReported(error.Code, error.Message);
            Error?.Invoke(this, SwitchboardException.FromCode(error.Code, error.Message));
        }

        if (error.Fatal)
        {
            connection.End(ConnectionLoss.ClosedByBroker, $"{error.Code}: {error.Message}");
        }
    }

    private void OnReply(ReplyFrame reply)
    {
        if (!_pending.TryRemove(reply.Id, out var call))
        {
            return;
        }

        if (reply.Ok)
        {
            call.Complete(reply.Data);
        }
        else
        {
            call.Fail(ToException(call, string.IsNullOrEmpty(reply.Code) ? ErrorCodes.HandlerError : reply.Code, reply.Message ?? string.Empty));
        }
    }

    private void OnGatherResult(ReadOnlySpan<byte> body)
    {
        var r = new SpanReader(body, FrameType.GatherResult);
        var id = r.U32("gather id");
        var producer = r.RequiredString("producer");
        var data = r.Payload("data");
        r.End();
        if (_gathers.TryGetValue(id, out var gather))
        {
            gather.OnResult(producer, data);
        }
    }

    private void OnGatherDone(GatherDoneFrame done)
    {
        if (_gathers.TryGetValue(done.Id, out var gather))
        {
            _pending.TryRemove(done.Id, out _);
            gather.OnDone(done.Answered, done.Missing, done.Failed, done.Canceled);
        }
    }

    private void OnGatherLate(ReadOnlySpan<byte> body)
    {
        var r = new SpanReader(body, FrameType.GatherLate);
        var id = r.U32("gather id");
        var late = r.U32("late");
        r.End();
        if (_gathers.TryGetValue(id, out var gather))
        {
            gather.Call.SetLate((int)late);
            Counters.AddLateResult();
        }
    }

    private void OnPing(ReadOnlySpan<byte> body)
    {
        var r = new SpanReader(body, FrameType.Ping);
        var nonce = r.U64("nonce");
        _out.Write(Lane.Control, nonce, static (output, crc, in n) => Frames.PingPong(output, crc, FrameType.Pong, n));
    }

    private void OnGoingAway(Connection connection, ReadOnlySpan<byte> body)
    {
        var reason = new SpanReader(body, FrameType.GoingAway).String("reason");
        _log.BrokerGoingAway(connection.Address, reason);
        connection.End(ConnectionLoss.BrokerShutdown, $"the broker is going away ({reason})");
        // Leave cleanly, so no last will fires for a planned move; the reconnect registers everything elsewhere.
        _out.Write(Lane.Data, 0, static (output, crc, in _) => Frames.Goodbye(output, crc));
    }

    private static SwitchboardException ToException(IPendingCall call, string code, string message) =>
        call is RequestCall request ? SwitchboardException.FromCode(code, message, request.Sender, request.Request) : SwitchboardException.FromCode(code, message);

    private async Task AnswerAsync(IncomingFrame incoming)
    {
        var (id, senderName, request, headers, data) = incoming;
        string? code = null;
        string? message = null;
        Payload answer = default;
        var handler = _senders.TryGetValue(senderName, out var sender) ? sender.FindHandler(request) : null;
        if (handler is not null && SwitchboardTelemetry.ProcessObserved)
        {
            handler = SwitchboardTelemetry.Instrument(senderName, handler); // its run is a 'process' span under the asker's
        }

        if (handler is null)
        {
            code = sender is null ? ErrorCodes.NoSender : ErrorCodes.NoHandler;
            message = sender is null ? $"This client no longer has a sender named '{senderName}'." : $"Sender '{senderName}' has no handler for the request '{request}'.";
        }
        else
        {
            try
            {
                answer = await handler(new BusRequest(senderName, request, data, headers), _disposing.Token);
            }
            catch (RequestFailedException ex)
            {
                // A handler that asked someone else (a bridge's mirror) passes that failure on as it came, as a
                // LocalBus does.
                code = ex.Code;
                message = ex.Message;
            }
            catch (Exception ex)
            {
                code = ErrorCodes.HandlerError;
                message = ex.Message;
            }
        }

        SendReply(id, code, message, answer);
    }

    private async Task ProduceAsync(IncomingFrame incoming)
    {
        var (id, producerName, topic, headers, data) = incoming;
        ClientProducer? producer;
        lock (_state)
        {
            producer = _registrations.OfType<ClientProducer>().FirstOrDefault(p => p.Name == producerName);
        }

        if (producer is null)
        {
            SendReply(id, ErrorCodes.HandlerError, $"This client no longer has a producer named '{producerName}'.", default);
            return;
        }

        try
        {
            var request = new GatherRequest(topic, producerName, data, headers);
            var result = await (SwitchboardTelemetry.ProcessObserved
                ? SwitchboardTelemetry.ProduceAsync(producer.Handler, request, _disposing.Token)
                : producer.Handler(request, _disposing.Token));
            SendReply(id, null, null, result);
        }
        catch (Exception ex)
        {
            SendReply(id, ErrorCodes.HandlerError, ex.Message, default);
        }
    }
}
