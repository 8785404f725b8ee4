using System.Text.Json;

namespace Switchboard.Server;

/// <summary>The lines the broker writes, each through the connection's <see cref="LineWriter"/>: one JSON object
/// encoded straight into the outbound buffer, then a newline. A payload that is JSON is written as it is; anything else as a JSON string.</summary>
internal sealed partial class JsonLinesPeer
{
    private static void WriteId(Utf8JsonWriter json, LineId? id, string name = "id")
    {
        if (id is not null)
        {
            json.WritePropertyName(name);
            json.WriteRawValue(id.Raw, skipInputValidation: true);
        }
    }

    /// <summary>Writes a named payload property (see <see cref="JsonPayload.Write"/>).</summary>
    private static void WriteData(Utf8JsonWriter json, string name, Payload data)
    {
        json.WritePropertyName(name);
        JsonPayload.Write(json, data);
    }

    private void SendOk(LineId? id, string? name = null, string? value = null) =>
        _lines.Write((id, name, value), static (json, in ok) =>
        {
            json.WriteBoolean("ok", true);
            WriteId(json, ok.id);
            if (ok.name is not null)
            {
                json.WriteString(ok.name, ok.value);
            }
        });

    private void SendError(LineId? id, string code, string message) =>
        _lines.Write((id, code, message), static (json, in e) =>
        {
            WriteId(json, e.id);
            json.WriteStartObject("error");
            json.WriteString("code", e.code);
            json.WriteString("message", e.message);
            json.WriteEndObject();
        });

    protected override void SendFatal(string code, string message) => SendError(_helloId, code, message);

    public override void SendPing() => _lines.Write(0, static (json, in _) => json.WriteString("op", "ping"));

    public override void SendGoingAway(string reason) =>
        _lines.Write(reason, static (json, in why) =>
        {
            json.WriteString("op", "going_away");
            json.WriteString("reason", why);
        });

    private void SendPong(LineId? id) =>
        _lines.Write(id, static (json, in pongId) =>
        {
            json.WriteString("op", "pong");
            WriteId(json, pongId);
        });

    private void SendReply(LineId? id, Payload data) =>
        _lines.Write((id, data), static (json, in r) =>
        {
            json.WriteString("op", "reply");
            WriteId(json, r.id);
            WriteData(json, "data", r.data);
        });

    private void SendSenders(LineId? id, IReadOnlyList<SenderInfo> senders) =>
        _lines.Write((id, senders), static (json, in list) =>
        {
            json.WriteString("op", "senders");
            WriteId(json, list.id);
            json.WriteStartArray("senders");
            foreach (var sender in list.senders)
            {
                json.WriteStartObject();
                json.WriteString("name", sender.Name);
                WriteStrings(json, "events", sender.Events);
                WriteStrings(json, "requests", sender.Requests);
                if (sender.HasDefaultHandler)
                {
                    json.WriteBoolean("default_handler", true);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
        });

    private static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> items)
    {
        json.WriteStartArray(name);
        foreach (var item in items)
        {
            json.WriteStringValue(item);
        }

        json.WriteEndArray();
    }

    private static void WriteHeaders(Utf8JsonWriter json, MessageHeaders headers)
    {
        if (headers.Count == 0)
        {
            return;
        }

        json.WriteStartObject("headers");
        foreach (var (name, value) in headers)
        {
            json.WriteString(name, value);
        }

        json.WriteEndObject();
    }

    /// <summary>Writes one delivery for a listen: <c>{"op":"event","listen":ID,"sender":..,"event":..,"data":..,"seq":N}</c>.
    /// The sequence counts every message routed to the listen, so a gap shows a message dropped for a full buffer.</summary>
    internal void Deliver(JsonLineSubscription subscription, in BusMessage message) =>
        _lines.InOrder((this, subscription, message), static (lines, in d) =>
        {
            var subscription = d.subscription;
            if (subscription.IsClosed || lines.IsCompleted)
            {
                return;
            }

            var seq = ++subscription.Seq;
            if (!subscription.Started)
            {
                (subscription.Early ??= []).Add((d.message, seq));
                return;
            }

            if (lines.IsFull)
            {
                d.Item1.OnOutboundFull();
                return;
            }

            if (lines.Write((subscription, d.message, seq), WriteEvent))
            {
                d.Item1._messagesOut++; // under the writer's lock
            }
        });

    /// <summary>Writes a listen's ok, then what was delivered to it while it was being registered, and starts it.</summary>
    internal void StartListen(JsonLineSubscription subscription) =>
        _lines.InOrder(subscription, static (lines, in subscription) =>
        {
            if (!lines.Write(subscription.ListenId, static (json, in id) =>
            {
                json.WriteBoolean("ok", true);
                WriteId(json, id);
            }))
            {
                return;
            }

            foreach (var (message, seq) in subscription.Early ?? [])
            {
                lines.Write((subscription, message, seq), WriteEvent);
            }

            subscription.Early = null;
            subscription.Started = true;
        });

    private static void WriteEvent(Utf8JsonWriter json, in (JsonLineSubscription Subscription, BusMessage Message, long Seq) e)
    {
        var results = e.Subscription.Results;
        json.WriteString("op", results ? "result" : "event");
        WriteId(json, e.Subscription.ListenId, "listen");
        json.WriteString(results ? "producer" : "sender", e.Message.Sender);
        json.WriteString(results ? "topic" : "event", e.Message.Event);
        WriteData(json, "data", e.Message.Data);
        json.WriteNumber("seq", e.Seq);
        WriteHeaders(json, e.Message.Headers);
    }
}
