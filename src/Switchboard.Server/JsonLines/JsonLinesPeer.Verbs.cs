using System.Globalization;
using System.Text.Json;
using System.Text.Unicode;
using Switchboard.Routing;
using Switchboard.Wire;

namespace Switchboard.Server;

/// <summary>What each verb does. A line that cannot be acted on throws a <see cref="SwitchboardException"/> (a
/// <see cref="JsonLineException"/> for the line's own faults, the router's for refusals) and becomes an error line
/// carrying the line's <c>id</c>; the connection and its registrations stay.</summary>
internal sealed partial class JsonLinesPeer
{
    private const string Verbs = "hello, sender, unsender, trigger, listen, results, unlisten, request, respond, producer, topics, unproducer, gather, senders, ping, pong, bye";

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
            document = JsonDocument.Parse(bytes, JsonField.ParseOptions);
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
            catch (SwitchboardException ex) when (ex is not HandshakeRefusedException)
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
            case "pong":
                return default; // the answer to the broker's heartbeat: the line itself is the sign of life
            case "sender" or "unsender" or "trigger" or "listen" or "results" or "unlisten" or "request" or "respond" or "producer" or "topics" or "unproducer" or "gather" or "senders" or "bye":
                break;
            default:
                throw new JsonLineException(ErrorCodes.UnknownOp, $"Unknown op \"{Shortened(line.Op)}\"; it must be one of: {Verbs}.");
        }

        if (Session is null)
        {
            if (HandshakeRequired)
            {
                throw new JsonLineException(ErrorCodes.Unauthorized, "This broker requires authentication: the first line must be {\"op\":\"hello\",\"client\":\"NAME\",\"token\":\"...\"}.");
            }

            Admit(identity: null); // a script that skipped hello (no credentials checked): no heartbeats (kernel keepalive looks after it)
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

    private ValueTask OnHello(JsonLine line, LineId? id)
    {
        if (Session is not null)
        {
            throw new JsonLineException(ErrorCodes.UnexpectedHello, "hello may only be the first line of a connection (before any other verb but ping).");
        }

        var client = line.OptionalString("client");
        var token = line.OptionalString("token");
        if (line.OptionalString("user") is { } user)
        {
            token = $"{user}:{line.OptionalString("password")}"; // the one credentials string of every surface
        }

        var heartbeats = line.Bool("heartbeat", otherwise: true);
        if (client is { Length: > NameRules.MaxSenderLength })
        {
            throw line.Invalid("client", $"is {client.Length} characters long; at most {NameRules.MaxSenderLength} are allowed");
        }

        _helloId = id; // a refusal is answered on the hello's id
        return WelcomeAsync(client ?? string.Empty, token, heartbeats, id);
    }

    private async ValueTask WelcomeAsync(string client, string? token, bool heartbeats, LineId? id)
    {
        await AdmitAsync(client, token);
        WantsHeartbeats = heartbeats;
        SendOk(id, "server", Broker.Options.ServerName);
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

        return ThenOkAsync(AddSenderAsync(name, events, requests, hasDefault, will, willData), id);
    }

    private ValueTask OnUnsender(JsonLine line, LineId? id) => ThenOkAsync(RemoveSenderAsync(line.RequiredString("name")), id);

    private ValueTask OnTrigger(JsonLine line, LineId? id)
    {
        var sender = line.RequiredString("sender");
        var events = line.EventOrEvents();
        var data = line.Data();
        var retain = line.Bool("retain", otherwise: false);
        var pending = Trigger(sender, events, data, line.Headers(), retain, $"declare it first ({{\"op\":\"sender\",\"name\":\"{sender}\",\"events\":[...]}}).");

        // Without an id, fire and forget: success is silent; a failure still gets an error line.
        return id is null ? pending : ThenOkAsync(pending, id);
    }

    private ValueTask ThenOkAsync(ValueTask pending, LineId? id)
    {
        if (!pending.IsCompletedSuccessfully)
        {
            return AwaitThenOkAsync(pending, id);
        }

        SendOk(id);
        return default;
    }

    private async ValueTask AwaitThenOkAsync(ValueTask pending, LineId? id)
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
        ValidateListen(sender, pattern);
        if (group is not null)
        {
            NameRules.ValidateGroup(group);
        }

        var key = id?.Key ?? "\0" + Interlocked.Increment(ref _unnamedListens).ToString(CultureInfo.InvariantCulture);
        var subscription = new JsonLineSubscription(this, id, sender, pattern, group);
        EnsureRoom(_listens.Count, Broker.Options.MaxSubscriptionsPerConnection, "listens", "BrokerOptions.MaxSubscriptionsPerConnection");
        if (!_listens.TryAdd(key, subscription))
        {
            throw new JsonLineException(ErrorCodes.InvalidField, $"\"id\" {key} already names a listen on this connection; unlisten it first or pick another id (op \"listen\").");
        }

        return AddAsync();

        async ValueTask AddAsync()
        {
            try
            {
                await Router.AddSubscriptionAsync(Admitted, subscription, retained);
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
        ValidateResults(topic);
        var key = id?.Key ?? "\0" + Interlocked.Increment(ref _unnamedListens).ToString(CultureInfo.InvariantCulture);
        var subscription = new JsonLineSubscription(this, id, null, topic, null) { Results = true };
        EnsureRoom(_listens.Count, Broker.Options.MaxSubscriptionsPerConnection, "listens", "BrokerOptions.MaxSubscriptionsPerConnection");
        if (!_listens.TryAdd(key, subscription))
        {
            throw new JsonLineException(ErrorCodes.InvalidField, $"\"id\" {key} already names a listen on this connection; unlisten it first or pick another id (op \"results\").");
        }

        var listener = Router.AddResultListener(Admitted, topic, (message, _) =>
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
        Ask(RememberAsk(id), sender, request, timeout, line.Headers() ?? MessageHeaders.Empty, data);
        return default;
    }

    /// <summary>A number for one of this peer's requests in flight, under which its answer finds the line's id.</summary>
    private uint RememberAsk(LineId? id)
    {
        lock (_asked)
        {
            do
            {
                _nextAsk++;
            }
            while (_asked.ContainsKey(_nextAsk));

            _asked[_nextAsk] = id;
            return _nextAsk;
        }
    }

    internal override void SendReply(uint askerId, string? code, string? message, Payload data)
    {
        LineId? id;
        lock (_asked)
        {
            if (!_asked.Remove(askerId, out id))
            {
                return;
            }
        }

        if (code is null)
        {
            SendReply(id, data);
        }
        else
        {
            SendError(id, code, message ?? code);
        }
    }

    private ValueTask OnRespond(JsonLine line, LineId? id)
    {
        var rid = line.RequiredString("rid");
        string? failure = null;
        var data = Payload.Empty;
        if (line.Has("error"))
        {
            failure = ReadFailure(line);
        }
        else
        {
            data = line.Data();
        }

        if (!TryParseRid(rid, out var askId) || !OnAnswer(askId, failure is null, failure is null ? null : ErrorCodes.HandlerError, failure, data))
        {
            throw new JsonLineException(ErrorCodes.UnknownRid, $"Nothing waits for rid '{rid}': it was already answered, timed out, or never sent to this connection.");
        }

        if (id is not null)
        {
            SendOk(id);
        }

        return default;
    }

    private static bool TryParseRid(string rid, out uint id)
    {
        id = 0;
        return rid.Length > 1 && rid[0] == 'r' && uint.TryParse(rid.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out id);
    }

    /// <summary>Reads <c>"error":"why"</c> (or <c>"error":{"message":"why"}</c>) of a respond: the asker gets
    /// <c>handler_error</c> with that message.</summary>
    private static string ReadFailure(JsonLine line)
    {
        if (line.OptionalStringOrObject("error", out var text) is { } details)
        {
            text = line.Nested("error", details).OptionalString("message");
        }

        return string.IsNullOrEmpty(text) ? "the handler failed" : text;
    }

    private ValueTask OnProducer(JsonLine line, LineId? id)
    {
        var name = line.OptionalString("name");
        var topics = line.Strings("topics", required: true);
        var group = line.OptionalString("group");
        return OkWhenClusterKnows(id, "name", AddProducer(name, group, topics));
    }

    /// <summary>OK; in a cluster, once every other node knows of the change (see <see cref="BrokerPeer.WhenClusterKnows"/>).</summary>
    private ValueTask OkWhenClusterKnows(LineId? id, string? name = null, string? value = null)
    {
        var known = WhenClusterKnows();
        if (known.IsCompletedSuccessfully)
        {
            SendOk(id, name, value);
            return default;
        }

        return OkAfterAsync(known, id, name, value);
    }

    private async ValueTask OkAfterAsync(ValueTask known, LineId? id, string? name, string? value)
    {
        await known;
        SendOk(id, name, value);
    }

    /// <summary>Adds and removes topics of a live producer, its other
    /// topics answered throughout: <c>{"op":"topics","producer":"p1","add":["t2"],"remove":["t1"]}</c>.</summary>
    private ValueTask OnTopics(JsonLine line, LineId? id)
    {
        var name = line.RequiredString("producer");
        ChangeProducerTopics(name, line.Strings("add"), line.Strings("remove"));
        return OkWhenClusterKnows(id);
    }

    private ValueTask OnUnproducer(JsonLine line, LineId? id)
    {
        RemoveProducer(line.RequiredString("name"));
        SendOk(id);
        return default;
    }

    private ValueTask OnGather(JsonLine line, LineId? id)
    {
        var topic = line.RequiredString("topic");
        var data = line.Data();
        var ttl = line.Milliseconds("ttl_ms") ?? DefaultGatherTtl;
        Gather(topic, data, ttl, null, new GatherLines(_lines, id, topic));
        return default;
    }

    /// <summary>A gather's progress as <c>result</c> lines, one <c>gathered</c> line, then <c>late</c> lines.</summary>
    private sealed class GatherLines(LineWriter lines, LineId? id, string topic) : IGatherOutput
    {
        private bool _ended; // under the writer's lock

        public void Result(GatherResult result) =>
            lines.Write((id, result), static (json, in r) =>
            {
                json.WriteString("op", "result");
                WriteId(json, r.id);
                json.WriteString("producer", r.result.Producer);
                WriteData(json, "data", r.result.Data);
            });

        public void Done(GatherSummary summary) =>
            lines.InOrder((this, summary), static (lines, in g) =>
            {
                g.Item1._ended = true;
                lines.Write(g, static (json, in g) =>
                {
                    json.WriteString("op", "gathered");
                    WriteId(json, g.Item1.Id);
                    json.WriteString("topic", g.Item1.Topic);
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

        // Before "gathered" is written its live count includes this one; after it, say so on a line of its own.
        public void Late(int count) =>
            lines.InOrder((this, count), static (lines, in l) =>
            {
                if (l.Item1._ended)
                {
                    lines.Write(l, static (json, in l) =>
                    {
                        json.WriteString("op", "late");
                        WriteId(json, l.Item1.Id);
                        json.WriteString("topic", l.Item1.Topic);
                        json.WriteNumber("late", l.count);
                    });
                }
            });

        private LineId? Id => id;

        private string Topic => topic;
    }

    private ValueTask OnSenders(LineId? id)
    {
        AdmitRequest();
        SendSenders(id, Router.GetSenders());
        return default;
    }

    private ValueTask OnBye(LineId? id)
    {
        SendOk(id);
        Stop("bye", clean: true);
        return default;
    }

    protected override WriteOutcome WriteAsk(bool produce, uint id, string target, string name, MessageHeaders headers, Payload data) =>
        WriteAskLine(produce, id, target, name, headers, data) ? WriteOutcome.Written : WriteOutcome.Closed;

    private bool WriteAskLine(bool produce, uint id, string target, string name, MessageHeaders headers, Payload data) =>
        _lines.Write((produce, target, name, data, headers, id), static (json, in q) =>
        {
            json.WriteString("op", q.produce ? "produce" : "request");
            if (q.produce)
            {
                json.WriteString("topic", q.name);
                json.WriteString("producer", q.target);
            }
            else
            {
                json.WriteString("sender", q.target);
                json.WriteString("request", q.name);
            }

            WriteData(json, "data", q.data);
            WriteHeaders(json, q.headers);
            Span<byte> rid = stackalloc byte[11];
            rid[0] = (byte)'r';
            q.id.TryFormat(rid[1..], out var digits, default, CultureInfo.InvariantCulture);
            json.WriteString("rid", rid[..(digits + 1)]);
        });

    /// <summary>What an error may quote of a client's text: enough to recognise it, never a megabyte echoed back.</summary>
    private static string Shortened(string text) => text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 64), "...");

    /// <summary>Turns a refusal that came after the line was read into an error line; the connection stays.</summary>
    private async ValueTask GuardAsync(ValueTask pending, LineId? id)
    {
        try
        {
            await pending;
        }
        catch (SwitchboardException ex) when (ex is not HandshakeRefusedException)
        {
            SendError(id, ex.Code, ex.Message);
        }
    }
}

/// <summary>A line's <c>id</c>: its JSON text (echoed as it came) and its key (a string's text or a number's JSON text).</summary>
internal sealed record LineId(byte[] Raw, string Key);
