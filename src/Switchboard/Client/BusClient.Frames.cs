using Switchboard.Client;
using Switchboard.Routing;
using Switchboard.Wire;

namespace Switchboard;

public sealed partial class BusClient
{
    private readonly NameCache _names = new();

    private ValueTask Dispatch(Connection connection, FrameType type, ReadOnlyMemory<byte> frame)
    {
        var r = new SpanReader(frame.Span, type);
        switch (type)
        {
            case FrameType.Event:
            {
                // Names come from the cache and the payload is lent from the receive buffer (the listener copies it
                // only if it keeps it): a delivery allocates at most that copy.
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

            case FrameType.Ok:
            {
                var id = r.U32("correlation");
                var detail = r.String("detail", emptyIsNull: true);
                r.End();
                if (_pending.TryRemove(id, out var call))
                {
                    call.Complete(detail);
                }

                return default;
            }

            case FrameType.Error:
            {
                var id = r.U32("correlation");
                var fatal = r.U8("fatal") != 0;
                var code = r.RequiredString("code");
                var message = r.String("message") ?? code;
                r.End();
                if (id != 0 && _pending.TryRemove(id, out var call))
                {
                    call.Fail(ToException(call, code, message));
                }
                else
                {
                    _log.BrokerReported(code, message);
                    Error?.Invoke(this, SwitchboardException.FromCode(code, message));
                }

                if (fatal)
                {
                    connection.End(ConnectionLoss.ClosedByBroker, $"{code}: {message}");
                }

                return default;
            }

            case FrameType.Reply:
            {
                var id = r.U32("id");
                var status = r.U8("status");
                var code = r.String("code");
                var message = r.String("message");
                var data = r.Payload("data");
                r.End();
                if (_pending.TryRemove(id, out var call))
                {
                    if (status == Protocol.ReplyOk)
                    {
                        call.Complete(data);
                    }
                    else
                    {
                        call.Fail(ToException(call, string.IsNullOrEmpty(code) ? ErrorCodes.HandlerError : code, message ?? string.Empty));
                    }
                }

                return default;
            }

            case FrameType.RequestIn:
            {
                var id = r.U32("id");
                var sender = r.RequiredString("sender");
                var request = r.RequiredString("request");
                var headers = r.Headers("headers");
                var data = r.Payload("data");
                r.End();
                // Handlers may block: they run on handler threads, never on this read loop.
                HandlerThreads.Run(_ => Track(AnswerAsync(id, sender, request, headers, data), "request handler"), null);
                return default;
            }

            case FrameType.ProduceIn:
            {
                var id = r.U32("id");
                var producer = r.RequiredString("producer");
                var topic = r.RequiredString("topic");
                var headers = r.Headers("headers");
                var data = r.Payload("data");
                r.End();
                HandlerThreads.Run(_ => Track(ProduceAsync(id, producer, topic, headers, data), "producer"), null);
                return default;
            }

            case FrameType.GatherResult:
            {
                var id = r.U32("gather id");
                var producer = r.RequiredString("producer");
                var data = r.Payload("data");
                r.End();
                if (_gathers.TryGetValue(id, out var gather))
                {
                    gather.OnResult(producer, data);
                }

                return default;
            }

            case FrameType.GatherDone:
            {
                var id = r.U32("gather id");
                var answered = r.Strings("answered");
                var missing = r.Strings("missing");
                var failedNames = r.Strings("failed");
                var failedMessages = r.Strings("failure messages");
                var canceled = r.U8("canceled") != 0;
                r.End();
                if (_gathers.TryGetValue(id, out var gather))
                {
                    var failed = new Dictionary<string, string>(StringComparer.Ordinal);
                    for (var i = 0; i < failedNames.Length && i < failedMessages.Length; i++)
                    {
                        failed[failedNames[i]] = failedMessages[i];
                    }

                    _pending.TryRemove(id, out _);
                    gather.OnDone(answered, missing, failed, canceled);
                }

                return default;
            }

            case FrameType.GatherLate:
            {
                var id = r.U32("gather id");
                var late = r.U32("late");
                r.End();
                if (_gathers.TryGetValue(id, out var gather))
                {
                    gather.Call.SetLate((int)late);
                    Counters.AddLateResult();
                }

                return default;
            }

            case FrameType.SenderList:
            {
                var id = r.U32("correlation");
                var count = r.U16("count");
                var senders = new List<SenderInfo>(count);
                for (var i = 0; i < count; i++)
                {
                    var name = r.RequiredString("name");
                    var events = r.Strings("events");
                    var requests = r.Strings("requests");
                    var hasDefault = r.U8("has default") != 0;
                    senders.Add(new SenderInfo(name, events, requests, hasDefault));
                }

                r.End();
                if (_pending.TryRemove(id, out var call))
                {
                    call.Complete(senders);
                }

                return default;
            }

            case FrameType.Ping:
            {
                var nonce = r.U64("nonce");
                _out.Write(Lane.Control, nonce, static (output, crc, in n) => Frames.PingPong(output, crc, FrameType.Pong, n));

                return default;
            }

            case FrameType.Pong:
                return default;

            case FrameType.GoingAway:
            {
                var reason = r.String("reason");
                _log.BrokerGoingAway(connection.Address, reason);
                connection.End(ConnectionLoss.BrokerShutdown, $"the broker is going away ({reason})");
                // Leave cleanly, so no last will fires for a planned move; the reconnect registers everything elsewhere.
                _out.Write(Lane.Data, 0, static (output, crc, in _) => Frames.Goodbye(output, crc));

                return default;
            }

            default:
                throw new ProtocolException(ErrorCodes.UnexpectedFrame, $"The broker sent {type}, which only clients send.");
        }
    }

    private static SwitchboardException ToException(IPendingCall call, string code, string message) =>
        call is RequestCall request ? SwitchboardException.FromCode(code, message, request.Sender, request.Request) : SwitchboardException.FromCode(code, message);

    private async Task AnswerAsync(uint id, string senderName, string request, MessageHeaders headers, Payload data)
    {
        string? code = null;
        string? message = null;
        Payload answer = default;
        var handler = _senders.TryGetValue(senderName, out var sender) ? sender.FindHandler(request) : null;
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
            catch (Exception ex)
            {
                code = ErrorCodes.HandlerError;
                message = ex.Message;
            }
        }

        SendReply(id, code, message, answer);
    }

    private async Task ProduceAsync(uint id, string producerName, string topic, MessageHeaders headers, Payload data)
    {
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
            var result = await producer.Handler(new GatherRequest(topic, producerName, data, headers), _disposing.Token);
            SendReply(id, null, null, result);
        }
        catch (Exception ex)
        {
            SendReply(id, ErrorCodes.HandlerError, ex.Message, default);
        }
    }
}
