using System.Globalization;
using System.Text.Json;
using System.Text.Unicode;
using Switchboard.Routing;

namespace Switchboard.Server;

/// <summary>What each verb does. A line that cannot be acted on throws a <see cref="SwitchboardException"/> (a
/// <see cref="JsonLineException"/> for the line's own faults, the router's for refusals) and becomes an error line
/// carrying the line's <c>id</c>; the connection and its registrations stay.</summary>
internal sealed partial class JsonLinesConnection
{
    private const string Verbs = "hello, sender, unsender, trigger, listen, results, unlisten, request, respond, producer, topics, unproducer, gather, senders, ping, bye";

    private static readonly TimeSpan DefaultGatherTtl = TimeSpan.FromSeconds(1);

    /// <summary>Parses one line and starts its verb; the returned task never reads the line's bytes.</summary>
    private ValueTask OnLine(ReadOnlyMemory<byte> bytes)
    {
        if (bytes.Span.Trim(" \t\r"u8).IsEmpty)
        {
            SendError(null, ErrorCodes.InvalidJson, "The line is empty; send one JSON object per line, such as {\"op\":\"ping\"}.");
            return default;
        }

        if (!Utf8.IsValid(bytes.Span))
        {
            SendError(null, ErrorCodes.InvalidJson, "The line is not valid UTF-8; send one UTF-8 JSON object per line.");
            return default;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, ParseOptions);
        }
        catch (JsonException ex)
        {
            SendError(null, ErrorCodes.InvalidJson, $"The line is not valid JSON: {ex.Message} Send one JSON object per line.");
            return default;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                SendError(null, ErrorCodes.InvalidJson, $"The line is {JsonLine.Describe(root)}; each line must be a JSON object, such as {{\"op\":\"ping\"}}.");
                return default;
            }

            LineId? id = null;
            try
            {
                id = ReadId(root);
                var pending = Dispatch(new JsonLine(root, ReadOp(root)), id);
                return pending.IsCompletedSuccessfully ? default : GuardAsync(pending, id);
            }
            catch (SwitchboardException ex)
            {
                SendError(id, ex.Code, ex.Message);
                return default;
            }
        }
    }

    private static LineId? ReadId(JsonElement root)
    {
        if (!root.TryGetProperty("id", out var id) || id.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return JsonLine.KeyOf(id) is { } key
            ? new LineId(JsonLine.Raw(id).Bytes.ToArray(), key)
            : throw new JsonLineException(ErrorCodes.InvalidField, $"\"id\" must be a string or a number, not {JsonLine.Describe(id)}.");
    }

    private static string ReadOp(JsonElement root)
    {
        if (!root.TryGetProperty("op", out var op))
        {
            throw new JsonLineException(ErrorCodes.UnknownOp, $"The line has no \"op\"; it must be one of: {Verbs}.");
        }

        if (op.ValueKind != JsonValueKind.String)
        {
            throw new JsonLineException(ErrorCodes.UnknownOp, $"\"op\" must be a string, not {JsonLine.Describe(op)}; it must be one of: {Verbs}.");
        }

        return op.GetString()!;
    }

    private ValueTask Dispatch(JsonLine line, LineId? id)
    {
        switch (line.Op)
        {
            case "hello":
                return OnHello(line, id);
            case "ping":
                SendPong(id);
                return default;
            case "sender" or "unsender" or "trigger" or "listen" or "results" or "unlisten" or "request" or "respond" or "producer" or "topics" or "unproducer" or "gather" or "senders" or "bye":
                break;
            default:
                throw new JsonLineException(ErrorCodes.UnknownOp, $"Unknown op \"{line.Op}\"; it must be one of: {Verbs}.");
        }

        if (Volatile.Read(ref _session) is null)
        {
            if (_broker.Options.Authenticate is not null)
            {
                throw new JsonLineException(ErrorCodes.Unauthorized, "This broker requires authentication: the first line must be {\"op\":\"hello\",\"client\":\"NAME\",\"token\":\"...\"}.");
            }

            OpenSession(Id);
        }

        return line.Op switch
        {
            "sender" => OnSender(line, id),
            "unsender" => OnUnsender(line, id),
            "trigger" => OnTrigger(line, id),
            "listen" => OnListen(line, id),
            "results" => OnResults(line, id),
            "unlisten" => OnUnlisten(line, id),
            "request" => OnRequest(line, id),
            "respond" => OnRespond(line, id),
            "producer" => OnProducer(line, id),
            "topics" => OnTopics(line, id),
            "unproducer" => OnUnproducer(line, id),
            "gather" => OnGather(line, id),
            "senders" => OnSenders(id),
            _ => OnBye(id),
        };
    }

    private void OpenSession(string name)
    {
        ClientName = name;
        Volatile.Write(ref _session, Router.OpenSession(name));
    }

    private ValueTask OnHello(JsonLine line, LineId? id)
    {
        if (Volatile.Read(ref _session) is not null)
        {
            throw new JsonLineException(ErrorCodes.UnexpectedHello, "hello may only be the first line of a connection (before any other verb but ping).");
        }

        var client = line.OptionalString("client");
        var token = line.OptionalString("token");
        if (client is { Length: > NameRules.MaxSenderLength })
        {
            throw line.Invalid("client", $"is {client.Length} characters long; at most {NameRules.MaxSenderLength} are allowed");
        }

        if (_broker.IsShuttingDown)
        {
            SendError(id, ErrorCodes.GoingAway, "This broker is shutting down; connect to another one.");
            _stop = "refused: shutting down";
            return default;
        }

        if (_broker.Options.Authenticate?.Invoke(client ?? string.Empty, token) is { } refusal)
        {
            SendError(id, ErrorCodes.Unauthorized, refusal);
            _broker.CountAuthRefusal();
            _broker.Log.JsonLinesRefused(Id, client ?? string.Empty, refusal);
            _stop = ErrorCodes.Unauthorized;
            return default;
        }

        OpenSession(string.IsNullOrEmpty(client) ? Id : client);
        SendOk(id, "server", _broker.Options.ServerName);
        return default;
    }

    private ValueTask OnSender(JsonLine line, LineId? id)
    {
        var name = line.RequiredString("name");
        var events = line.Strings("events");
        var requests = line.Strings("requests");
        var hasDefault = line.Bool("default_handler", otherwise: false);
        string? will = null;
        var willData = Payload.Empty;
        if (line.Object("will") is { } willObject)
        {
            var fields = line.Nested("will", willObject);
            will = fields.RequiredString("event");
            willData = fields.Data();
        }

        return AddSenderAsync();

        async ValueTask AddSenderAsync()
        {
            var forward = ForwardRequests();
            var handlers = new Dictionary<string, RequestHandler>(StringComparer.Ordinal);
            foreach (var request in requests)
            {
                handlers[request] = forward;
            }

            var options = new SenderOptions { DefaultRequestHandler = hasDefault ? forward : null, WillEvent = will, WillData = willData };
            var registration = await Router.AddSenderAsync(_session!, name, events, handlers, options);
            _senders[name] = registration;
            SendOk(id);
        }
    }

    private ValueTask OnUnsender(JsonLine line, LineId? id)
    {
        var name = line.RequiredString("name");
        if (!_senders.TryRemove(name, out var registration))
        {
            throw new JsonLineException(ErrorCodes.UnknownSender, $"This connection has no sender named '{name}'.");
        }

        return RemoveAsync();

        async ValueTask RemoveAsync()
        {
            await registration.DisposeAsync();
            SendOk(id);
        }
    }

    private ValueTask OnTrigger(JsonLine line, LineId? id)
    {
        var sender = line.RequiredString("sender");
        var single = line.OptionalString("event");
        var several = line.Has("events") ? line.Strings("events") : null;
        if ((single is null) == (several is null))
        {
            throw line.Invalid("event", "and \"events\": give exactly one of them (\"event\": a name, or \"events\": an array of names)");
        }

        if (several is { Length: 0 })
        {
            throw line.Invalid("events", "is empty; name at least one event");
        }

        var data = line.Data();
        var retain = line.Bool("retain", otherwise: false);
        if (!_senders.TryGetValue(sender, out var registration))
        {
            NameRules.ValidateSender(sender);
            throw new JsonLineException(ErrorCodes.UnknownSender, $"This connection has not declared the sender '{sender}'; declare it first ({{\"op\":\"sender\",\"name\":\"{sender}\",\"events\":[...]}}). The broker stamps the sender, so a connection can only trigger its own.");
        }

        var pending = single is not null
            ? registration.TriggerAsync(single, data, null, retain)
            : registration.TriggerAsync(several!, data, null, retain);
        if (id is null)
        {
            // Fire and forget: success is silent; a failure still gets an error line.
            return pending;
        }

        if (pending.IsCompletedSuccessfully)
        {
            SendOk(id);
            return default;
        }

        return ThenOkAsync(pending, id);
    }

    private async ValueTask ThenOkAsync(ValueTask pending, LineId id)
    {
        await pending;
        SendOk(id);
    }

    private ValueTask OnListen(JsonLine line, LineId? id)
    {
        var sender = line.OptionalString("sender");
        var pattern = line.OptionalString("event");
        var group = line.OptionalString("group");
        var retained = line.Bool("retained", Router.Options.DefaultListenerOptions.ReceiveRetained);
        Router.ValidateSubscription(sender, pattern);
        if (group is not null)
        {
            NameRules.ValidateGroup(group);
        }

        var key = id?.Key ?? "\0" + Interlocked.Increment(ref _unnamedListens).ToString(CultureInfo.InvariantCulture);
        var subscription = new JsonLineSubscription(this, id, sender, pattern, group);
        if (!_listens.TryAdd(key, subscription))
        {
            throw new JsonLineException(ErrorCodes.InvalidField, $"\"id\" {key} already names a listen on this connection; unlisten it first or pick another id (op \"listen\").");
        }

        return AddAsync();

        async ValueTask AddAsync()
        {
            try
            {
                await Router.AddSubscriptionAsync(_session!, subscription, retained);
            }
            catch
            {
                _listens.TryRemove(key, out _);
                await subscription.CloseAsync(null);
                throw;
            }

            // Registered: the ok goes out, then what arrived meanwhile (retained values), then the rest as it comes.
            StartListen(subscription);
        }
    }

    /// <summary>Listens to every result produced on a topic, whoever gathered: an ok, then
    /// <c>{"op":"result","listen":ID,"producer":...,"topic":...,"data":...,"seq":N}</c> per result; <c>unlisten</c> ends it.</summary>
    private ValueTask OnResults(JsonLine line, LineId? id)
    {
        var topic = line.RequiredString("topic");
        NameRules.ValidateTopic(topic);
        var key = id?.Key ?? "\0" + Interlocked.Increment(ref _unnamedListens).ToString(CultureInfo.InvariantCulture);
        var subscription = new JsonLineSubscription(this, id, null, topic, null) { Results = true };
        if (!_listens.TryAdd(key, subscription))
        {
            throw new JsonLineException(ErrorCodes.InvalidField, $"\"id\" {key} already names a listen on this connection; unlisten it first or pick another id (op \"results\").");
        }

        var listener = Router.AddResultListener(_session!, topic, (message, _) =>
        {
            Deliver(subscription, message);
            return default;
        }, null);
        subscription.Unregister = _ => listener.CloseAsync(null);
        StartListen(subscription);
        return default;
    }

    private ValueTask OnUnlisten(JsonLine line, LineId? id)
    {
        var key = line.Key("listen");
        if (!_listens.TryRemove(key, out var subscription))
        {
            throw new JsonLineException(ErrorCodes.UnknownListen, $"This connection has no listen with id {key}.");
        }

        return CloseAsync();

        async ValueTask CloseAsync()
        {
            await subscription.CloseAsync(null);
            SendOk(id);
        }
    }

    private ValueTask OnRequest(JsonLine line, LineId? id)
    {
        var sender = line.RequiredString("sender");
        var request = line.RequiredString("request");
        var data = line.Data();
        var timeout = line.Milliseconds("timeout_ms");
        NameRules.ValidateSender(sender);
        NameRules.ValidateRequest(request);
        Track(AnswerAsync());
        return default;

        async Task AnswerAsync()
        {
            try
            {
                var answer = await Router.RequestAsync(sender, request, data, timeout, null, _closing.Token);
                SendReply(id, answer);
            }
            catch (SwitchboardException ex)
            {
                SendError(id, ex.Code, ex.Message);
            }
            catch (OperationCanceledException)
            {
                // The asker's connection closed; nobody is left to answer.
            }
        }
    }

    private ValueTask OnRespond(JsonLine line, LineId? id)
    {
        var rid = line.RequiredString("rid");
        Exception? failure = null;
        var data = Payload.Empty;
        if (line.Has("error"))
        {
            failure = ReadFailure(line);
        }
        else
        {
            data = line.Data();
        }

        if (!_awaiting.TryRemove(rid, out var pending))
        {
            throw new JsonLineException(ErrorCodes.UnknownRid, $"Nothing waits for rid '{rid}': it was already answered, timed out, or never sent to this connection.");
        }

        if (failure is null)
        {
            pending.TrySetResult(data);
        }
        else
        {
            pending.TrySetException(failure);
        }

        if (id is not null)
        {
            SendOk(id);
        }

        return default;
    }

    /// <summary>Reads <c>"error":"why"</c> (or <c>"error":{"message":"why"}</c>) of a respond: the asker gets
    /// <c>handler_error</c> with that message.</summary>
    private static RemoteHandlerException ReadFailure(JsonLine line)
    {
        if (line.OptionalStringOrObject("error", out var text) is { } details)
        {
            text = line.Nested("error", details).OptionalString("message");
        }

        return new RemoteHandlerException(string.IsNullOrEmpty(text) ? "the handler failed" : text);
    }

    private ValueTask OnProducer(JsonLine line, LineId? id)
    {
        var name = line.OptionalString("name");
        var topics = line.Strings("topics", required: true);
        var group = line.OptionalString("group");
        var producer = Router.AddProducer(_session!, topics, ForwardProduce, new ProducerOptions { Name = name, Group = group });
        _producers[producer.Name] = producer;
        SendOk(id, "name", producer.Name);
        return default;
    }

    /// <summary>Adds and removes topics of a live producer, its other
    /// topics answered throughout: <c>{"op":"topics","producer":"p1","add":["t2"],"remove":["t1"]}</c>.</summary>
    private ValueTask OnTopics(JsonLine line, LineId? id)
    {
        var name = line.RequiredString("producer");
        var add = line.Strings("add");
        var remove = line.Strings("remove");
        if (!_producers.TryGetValue(name, out var producer))
        {
            throw new JsonLineException(ErrorCodes.UnknownProducer, $"This connection has no producer named '{name}'.");
        }

        foreach (var topic in add.Concat(remove))
        {
            NameRules.ValidateTopic(topic); // every name checked before any change
        }

        foreach (var topic in add)
        {
            Router.ChangeProducerTopic(producer, topic, add: true);
        }

        foreach (var topic in remove)
        {
            Router.ChangeProducerTopic(producer, topic, add: false);
        }

        SendOk(id);
        return default;
    }

    private ValueTask OnUnproducer(JsonLine line, LineId? id)
    {
        var name = line.RequiredString("name");
        if (!_producers.TryRemove(name, out var producer))
        {
            throw new JsonLineException(ErrorCodes.UnknownProducer, $"This connection has no producer named '{name}'.");
        }

        Router.RemoveProducer(producer);
        SendOk(id);
        return default;
    }

    private ValueTask OnGather(JsonLine line, LineId? id)
    {
        var topic = line.RequiredString("topic");
        var data = line.Data();
        var ttl = line.Milliseconds("ttl_ms") ?? DefaultGatherTtl;
        var gather = Router.StartGather(topic, data, ttl, null, _closing.Token);
        var call = gather.Call;
        var ended = false;
        gather.OnLate = late => _lines.InOrder(late, (lines, in count) =>
        {
            // Before "gathered" is written its live count includes this one; after it, say so on a line of its own.
            if (ended)
            {
                lines.Write(count, (json, in n) =>
                {
                    json.WriteString("op", "late");
                    WriteId(json, id);
                    json.WriteString("topic", topic);
                    json.WriteNumber("late", n);
                });
            }
        });
        Track(PumpAsync());
        return default;

        async Task PumpAsync()
        {
            await foreach (var result in call)
            {
                _lines.Write((id, result), static (json, in r) =>
                {
                    json.WriteString("op", "result");
                    WriteId(json, r.id);
                    json.WriteString("producer", r.result.Producer);
                    WriteData(json, "data", r.result.Data);
                });
            }

            var summary = await call.Summary;
            _lines.InOrder((id, topic, summary), (lines, in g) =>
            {
                ended = true;
                lines.Write(g, static (json, in g) =>
                {
                    json.WriteString("op", "gathered");
                    WriteId(json, g.id);
                    json.WriteString("topic", g.topic);
                    WriteStrings(json, "answered", g.summary.Answered);
                    WriteStrings(json, "missing", g.summary.Missing);
                    json.WriteStartObject("failed");
                    foreach (var (producer, message) in g.summary.Failed)
                    {
                        json.WriteString(producer, message);
                    }

                    json.WriteEndObject();
                    json.WriteNumber("late", g.summary.Late);
                });
            });
        }
    }

    private ValueTask OnSenders(LineId? id)
    {
        SendSenders(id, Router.GetSenders());
        return default;
    }

    private ValueTask OnBye(LineId? id)
    {
        Volatile.Write(ref _clean, true);
        SendOk(id);
        _stop = "bye";
        return default;
    }

    private RequestHandler ForwardRequests() =>
        (request, ct) => AskClientAsync("request", request.Sender, request.Name, request.Headers, request.Data, ct);

    // The gather's end does not cancel the wait: a result that still arrives must be counted as late, not lost silently.
    // The connection closing ends the wait in any case.
    private ValueTask<Payload> ForwardProduce(GatherRequest request, CancellationToken cancellationToken) =>
        AskClientAsync("produce", request.Producer, request.Topic, request.Headers, request.Data, _closing.Token);

    /// <summary>Sends <c>{"op":"request",...,"rid":..}</c> or <c>{"op":"produce",...,"rid":..}</c> to this client and
    /// waits for its <c>respond</c>.</summary>
    private async ValueTask<Payload> AskClientAsync(string op, string target, string name, MessageHeaders headers, Payload data, CancellationToken cancellationToken)
    {
        var rid = "r" + Interlocked.Increment(ref _nextRid).ToString(CultureInfo.InvariantCulture);
        var pending = new TaskCompletionSource<Payload>(TaskCreationOptions.RunContinuationsAsynchronously);
        _awaiting[rid] = pending;
        try
        {
            var written = _lines.Write((op, target, name, data, headers, rid), static (json, in q) =>
            {
                json.WriteString("op", q.op);
                if (q.op == "request")
                {
                    json.WriteString("sender", q.target);
                    json.WriteString("request", q.name);
                }
                else
                {
                    json.WriteString("topic", q.name);
                    json.WriteString("producer", q.target);
                }

                WriteData(json, "data", q.data);
                WriteHeaders(json, q.headers);
                json.WriteString("rid", q.rid);
            });
            if (!written)
            {
                throw new SwitchboardException(ErrorCodes.Closed, $"The connection of client '{ClientName}' is closing.");
            }

            using var registration = cancellationToken.Register(static state => ((TaskCompletionSource<Payload>)state!).TrySetCanceled(), pending);
            return await pending.Task;
        }
        finally
        {
            _awaiting.TryRemove(rid, out _);
        }
    }

    /// <summary>Turns a refusal that came after the line was read into an error line; the connection stays.</summary>
    private async ValueTask GuardAsync(ValueTask pending, LineId? id)
    {
        try
        {
            await pending;
        }
        catch (SwitchboardException ex)
        {
            SendError(id, ex.Code, ex.Message);
        }
    }
}

/// <summary>A line's <c>id</c>: its JSON text (echoed as it came) and its key (a string's text or a number's JSON text).</summary>
internal sealed record LineId(byte[] Raw, string Key);
