using System.Text.Json;

namespace Switchboard.Server;

/// <summary>The lines the broker writes: each one JSON object encoded straight into the outbound buffer under its lock,
/// then a newline. A payload that is JSON is written as it is; anything else as a JSON string.</summary>
internal sealed partial class JsonLinesConnection
{
    /// <summary>Starts a line (under <see cref="Transports.OutboundBuffer.Sync"/>); null once the connection is closing.</summary>
    private Utf8JsonWriter? BeginLine()
    {
        if (Outbound.IsCompleted)
        {
            return null;
        }

        _json.Reset(Outbound.Writer);
        _json.WriteStartObject();
        return _json;
    }

    /// <summary>Ends the line begun by <see cref="BeginLine"/> and wakes the write loop.</summary>
    private void EndLine(Utf8JsonWriter json)
    {
        json.WriteEndObject();
        json.Flush();
        var writer = Outbound.Writer;
        writer.GetSpan(1)[0] = (byte)'\n';
        writer.Advance(1);
        Outbound.Commit();
    }

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

    private void SendOk(LineId? id, string? name = null, string? value = null)
    {
        lock (Outbound.Sync)
        {
            if (BeginLine() is { } json)
            {
                json.WriteBoolean("ok", true);
                WriteId(json, id);
                if (name is not null)
                {
                    json.WriteString(name, value);
                }

                EndLine(json);
            }
        }
    }

    private void SendError(LineId? id, string code, string message)
    {
        lock (Outbound.Sync)
        {
            if (BeginLine() is { } json)
            {
                WriteId(json, id);
                json.WriteStartObject("error");
                json.WriteString("code", code);
                json.WriteString("message", message);
                json.WriteEndObject();
                EndLine(json);
            }
        }
    }

    private void SendPong(LineId? id)
    {
        lock (Outbound.Sync)
        {
            if (BeginLine() is { } json)
            {
                json.WriteString("op", "pong");
                WriteId(json, id);
                EndLine(json);
            }
        }
    }

    private void SendReply(LineId? id, Payload data)
    {
        lock (Outbound.Sync)
        {
            if (BeginLine() is { } json)
            {
                json.WriteString("op", "reply");
                WriteId(json, id);
                WriteData(json, "data", data);
                EndLine(json);
            }
        }
    }

    private void SendSenders(LineId? id, IReadOnlyList<SenderInfo> senders)
    {
        lock (Outbound.Sync)
        {
            if (BeginLine() is { } json)
            {
                json.WriteString("op", "senders");
                WriteId(json, id);
                json.WriteStartArray("senders");
                foreach (var sender in senders)
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
                EndLine(json);
            }
        }
    }

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
    internal void Deliver(JsonLineSubscription subscription, in BusMessage message)
    {
        lock (Outbound.Sync)
        {
            if (subscription.IsClosed || Outbound.IsCompleted)
            {
                return;
            }

            var seq = ++subscription.Seq;
            if (!subscription.Started)
            {
                (subscription.Early ??= []).Add((message, seq));
                return;
            }

            if (Outbound.IsFull)
            {
                OnOutboundFull();
                return;
            }

            WriteEvent(subscription, message, seq);
        }
    }

    /// <summary>Writes a listen's ok, then what was delivered to it while it was being registered, and starts it.</summary>
    internal void StartListen(JsonLineSubscription subscription)
    {
        lock (Outbound.Sync)
        {
            if (BeginLine() is not { } json)
            {
                return;
            }

            json.WriteBoolean("ok", true);
            WriteId(json, subscription.ListenId);
            EndLine(json);
            foreach (var (message, seq) in subscription.Early ?? [])
            {
                WriteEvent(subscription, message, seq);
            }

            subscription.Early = null;
            subscription.Started = true;
        }
    }

    private void WriteEvent(JsonLineSubscription subscription, in BusMessage message, long seq)
    {
        var json = BeginLine()!;
        json.WriteString("op", subscription.Results ? "result" : "event");
        WriteId(json, subscription.ListenId, "listen");
        json.WriteString(subscription.Results ? "producer" : "sender", message.Sender);
        json.WriteString(subscription.Results ? "topic" : "event", message.Event);
        WriteData(json, "data", message.Data);
        json.WriteNumber("seq", seq);
        WriteHeaders(json, message.Headers);
        EndLine(json);
    }
}
