using System.Buffers;

namespace Switchboard.Wire;

/// <summary>
/// Encoders (and, in FrameReaders.cs, readers) for every frame of the binary protocol, each writing straight into the output with one span and one
/// advance. docs/protocol.md gives each layout; the field order here is that layout.
/// </summary>
public static partial class Frames
{
    /// <summary>HELLO: u16 version, str client, str credentials, u32 features, u32 heartbeat ms, and (optional, when not 0) u32
    /// the largest frame the client accepts.</summary>
    public static void Hello(IBufferWriter<byte> output, bool crc, ushort version, string client, string? credentials, uint features, uint heartbeatMs, uint maxFrameSize = 0)
    {
        var w = SpanWriter.Begin(output, FrameType.Hello, 2 + SpanWriter.SizeOf(client) + SpanWriter.SizeOf(credentials) + 8 + (maxFrameSize == 0 ? 0 : 4), crc);
        w.U16(version);
        w.String(client);
        w.String(credentials);
        w.U32(features);
        w.U32(heartbeatMs);
        if (maxFrameSize != 0)
        {
            w.U32(maxFrameSize);
        }

        w.End(output);
    }

    /// <summary>PING or PONG: u64 nonce.</summary>
    public static void PingPong(IBufferWriter<byte> output, bool crc, FrameType type, ulong nonce)
    {
        var w = SpanWriter.Begin(output, type, 8, crc);
        w.U64(nonce);
        w.End(output);
    }

    /// <summary>ADD_SENDER: u32 corr, str name, list events, list requests, u8 has-default, str will event, payload will data.</summary>
    public static void AddSender(IBufferWriter<byte> output, bool crc, uint correlation, string name, IReadOnlyList<string> events, IReadOnlyList<string> requests, bool hasDefault, string? willEvent, Payload willData)
    {
        var w = SpanWriter.Begin(output, FrameType.AddSender, 4 + SpanWriter.SizeOf(name) + SpanWriter.SizeOf(events) + SpanWriter.SizeOf(requests) + 1 + SpanWriter.SizeOf(willEvent) + SpanWriter.SizeOf(willData), crc);
        w.U32(correlation);
        w.String(name);
        w.Strings(events);
        w.Strings(requests);
        w.U8(hasDefault ? (byte)1 : (byte)0);
        w.String(willEvent);
        w.Payload(willData);
        w.End(output);
    }

    /// <summary>REMOVE_SENDER or REMOVE_PRODUCER: u32 corr, str name.</summary>
    public static void RemoveByName(IBufferWriter<byte> output, bool crc, FrameType type, uint correlation, string name)
    {
        var w = SpanWriter.Begin(output, type, 4 + SpanWriter.SizeOf(name), crc);
        w.U32(correlation);
        w.String(name);
        w.End(output);
    }

    /// <summary>PRODUCER_TOPIC: u32 corr, str producer, u8 1 = add / 0 = remove, str topic.</summary>
    public static void ProducerTopic(IBufferWriter<byte> output, bool crc, uint correlation, string producer, bool add, string topic)
    {
        var w = SpanWriter.Begin(output, FrameType.ProducerTopic, 4 + SpanWriter.SizeOf(producer) + 1 + SpanWriter.SizeOf(topic), crc);
        w.U32(correlation);
        w.String(producer);
        w.U8(add ? (byte)1 : (byte)0);
        w.String(topic);
        w.End(output);
    }

    /// <summary>TRIGGER of one event: str sender, u8 flags, u16 1, str event, headers, payload.</summary>
    public static void Trigger(IBufferWriter<byte> output, bool crc, string sender, string @event, byte flags, MessageHeaders? headers, Payload data)
    {
        var w = SpanWriter.Begin(output, FrameType.Trigger, SpanWriter.SizeOf(sender) + 1 + 2 + SpanWriter.SizeOf(@event) + SpanWriter.SizeOf(headers) + SpanWriter.SizeOf(data), crc);
        w.String(sender);
        w.U8(flags);
        w.U16(1);
        w.String(@event);
        w.Headers(headers);
        w.Payload(data);
        w.End(output);
    }

    /// <summary>TRIGGER of several events: str sender, u8 flags, list events, headers, payload.</summary>
    public static void Trigger(IBufferWriter<byte> output, bool crc, string sender, IReadOnlyList<string> events, byte flags, MessageHeaders? headers, Payload data)
    {
        var w = SpanWriter.Begin(output, FrameType.Trigger, SpanWriter.SizeOf(sender) + 1 + SpanWriter.SizeOf(events) + SpanWriter.SizeOf(headers) + SpanWriter.SizeOf(data), crc);
        w.String(sender);
        w.U8(flags);
        w.Strings(events);
        w.Headers(headers);
        w.Payload(data);
        w.End(output);
    }

    /// <summary>LISTEN: u32 corr, u32 subscription, str sender (empty: any), str pattern (empty: any), str group (empty: none), u8 flags (1: receive retained).</summary>
    public static void Listen(IBufferWriter<byte> output, bool crc, uint correlation, uint subscription, string? sender, string? pattern, string? group, bool retained)
    {
        var w = SpanWriter.Begin(output, FrameType.Listen, 8 + SpanWriter.SizeOf(sender) + SpanWriter.SizeOf(pattern) + SpanWriter.SizeOf(group) + 1, crc);
        w.U32(correlation);
        w.U32(subscription);
        w.String(sender);
        w.String(pattern);
        w.String(group);
        w.U8(retained ? (byte)1 : (byte)0);
        w.End(output);
    }

    /// <summary>UNLISTEN: u32 corr, u32 subscription.</summary>
    public static void Unlisten(IBufferWriter<byte> output, bool crc, uint correlation, uint subscription)
    {
        var w = SpanWriter.Begin(output, FrameType.Unlisten, 8, crc);
        w.U32(correlation);
        w.U32(subscription);
        w.End(output);
    }

    /// <summary>REQUEST: u32 request id, str sender, str request, u32 timeout ms, headers, payload.</summary>
    public static void Request(IBufferWriter<byte> output, bool crc, uint requestId, string sender, string request, uint timeoutMs, MessageHeaders? headers, Payload data)
    {
        var w = SpanWriter.Begin(output, FrameType.Request, 4 + SpanWriter.SizeOf(sender) + SpanWriter.SizeOf(request) + 4 + SpanWriter.SizeOf(headers) + SpanWriter.SizeOf(data), crc);
        w.U32(requestId);
        w.String(sender);
        w.String(request);
        w.U32(timeoutMs);
        w.Headers(headers);
        w.Payload(data);
        w.End(output);
    }

    /// <summary>REPLY: u32 id, u8 status (0 ok, 1 error), str code, str message, payload.</summary>
    public static void Reply(IBufferWriter<byte> output, bool crc, uint id, string? errorCode, string? errorMessage, Payload data)
    {
        var w = SpanWriter.Begin(output, FrameType.Reply, 4 + 1 + SpanWriter.SizeOf(errorCode) + SpanWriter.SizeOf(errorMessage) + SpanWriter.SizeOf(data), crc);
        w.U32(id);
        w.U8(errorCode is null ? Protocol.ReplyOk : Protocol.ReplyError);
        w.String(errorCode);
        w.String(errorMessage);
        w.Payload(data);
        w.End(output);
    }

    /// <summary>ADD_PRODUCER: u32 corr, str name (empty: broker picks), str group, list topics.</summary>
    public static void AddProducer(IBufferWriter<byte> output, bool crc, uint correlation, string? name, string? group, IReadOnlyList<string> topics)
    {
        var w = SpanWriter.Begin(output, FrameType.AddProducer, 4 + SpanWriter.SizeOf(name) + SpanWriter.SizeOf(group) + SpanWriter.SizeOf(topics), crc);
        w.U32(correlation);
        w.String(name);
        w.String(group);
        w.Strings(topics);
        w.End(output);
    }

    /// <summary>GATHER: u32 gather id, str topic, u32 ttl ms, headers, payload.</summary>
    public static void Gather(IBufferWriter<byte> output, bool crc, uint gatherId, string topic, uint ttlMs, MessageHeaders? headers, Payload data)
    {
        var w = SpanWriter.Begin(output, FrameType.Gather, 4 + SpanWriter.SizeOf(topic) + 4 + SpanWriter.SizeOf(headers) + SpanWriter.SizeOf(data), crc);
        w.U32(gatherId);
        w.String(topic);
        w.U32(ttlMs);
        w.Headers(headers);
        w.Payload(data);
        w.End(output);
    }

    /// <summary>LISTEN_RESULTS: u32 corr, u32 subscription, str topic.</summary>
    public static void ListenResults(IBufferWriter<byte> output, bool crc, uint correlation, uint subscription, string topic)
    {
        var w = SpanWriter.Begin(output, FrameType.ListenResults, 8 + SpanWriter.SizeOf(topic), crc);
        w.U32(correlation);
        w.U32(subscription);
        w.String(topic);
        w.End(output);
    }

    /// <summary>LIST_SENDERS, FLUSH or OK without detail: u32 corr (OK adds an empty str detail).</summary>
    public static void Correlated(IBufferWriter<byte> output, bool crc, FrameType type, uint correlation)
    {
        var w = SpanWriter.Begin(output, type, 4, crc);
        w.U32(correlation);
        w.End(output);
    }

    /// <summary>WELCOME: u16 version, str server, u32 features, u32 heartbeat ms, u32 max frame size.</summary>
    public static void Welcome(IBufferWriter<byte> output, bool crc, ushort version, string server, uint features, uint heartbeatMs, uint maxFrameSize)
    {
        var w = SpanWriter.Begin(output, FrameType.Welcome, 2 + SpanWriter.SizeOf(server) + 12, crc);
        w.U16(version);
        w.String(server);
        w.U32(features);
        w.U32(heartbeatMs);
        w.U32(maxFrameSize);
        w.End(output);
    }

    /// <summary>OK: u32 corr, str detail (a producer's assigned name; else empty).</summary>
    public static void Ok(IBufferWriter<byte> output, bool crc, uint correlation, string? detail = null)
    {
        var w = SpanWriter.Begin(output, FrameType.Ok, 4 + SpanWriter.SizeOf(detail), crc);
        w.U32(correlation);
        w.String(detail);
        w.End(output);
    }

    /// <summary>ERROR: u32 corr (0: none), u8 fatal (1: the connection closes after it), str code, str message.</summary>
    public static void Error(IBufferWriter<byte> output, bool crc, uint correlation, bool fatal, string code, string message)
    {
        var w = SpanWriter.Begin(output, FrameType.Error, 5 + SpanWriter.SizeOf(code) + SpanWriter.SizeOf(message), crc);
        w.U32(correlation);
        w.U8(fatal ? (byte)1 : (byte)0);
        w.String(code);
        w.String(message);
        w.End(output);
    }

    /// <summary>EVENT: u32 subscription, str sender, str event, headers, payload.</summary>
    public static void Event(IBufferWriter<byte> output, bool crc, uint subscription, string sender, string @event, MessageHeaders? headers, Payload data)
    {
        var w = SpanWriter.Begin(output, FrameType.Event, 4 + SpanWriter.SizeOf(sender) + SpanWriter.SizeOf(@event) + SpanWriter.SizeOf(headers) + SpanWriter.SizeOf(data), crc);
        w.U32(subscription);
        w.String(sender);
        w.String(@event);
        w.Headers(headers);
        w.Payload(data);
        w.End(output);
    }

    /// <summary>REQUEST_IN or PRODUCE_IN: u32 id, str sender or producer, str request or topic, headers, payload.</summary>
    public static void Incoming(IBufferWriter<byte> output, bool crc, FrameType type, uint id, string target, string name, MessageHeaders? headers, Payload data)
    {
        var w = SpanWriter.Begin(output, type, 4 + SpanWriter.SizeOf(target) + SpanWriter.SizeOf(name) + SpanWriter.SizeOf(headers) + SpanWriter.SizeOf(data), crc);
        w.U32(id);
        w.String(target);
        w.String(name);
        w.Headers(headers);
        w.Payload(data);
        w.End(output);
    }

    /// <summary>GATHER_RESULT: u32 gather id, str producer, payload.</summary>
    public static void GatherResult(IBufferWriter<byte> output, bool crc, uint gatherId, string producer, Payload data)
    {
        var w = SpanWriter.Begin(output, FrameType.GatherResult, 4 + SpanWriter.SizeOf(producer) + SpanWriter.SizeOf(data), crc);
        w.U32(gatherId);
        w.String(producer);
        w.Payload(data);
        w.End(output);
    }

    /// <summary>GATHER_DONE: u32 gather id, list answered, list missing, list failed names, list failed messages, u8 canceled.</summary>
    public static void GatherDone(IBufferWriter<byte> output, bool crc, uint gatherId, GatherSummary summary)
    {
        var failedNames = summary.Failed.Keys.ToArray();
        var failedMessages = failedNames.Select(n => summary.Failed[n]).ToArray();
        var w = SpanWriter.Begin(output, FrameType.GatherDone, 4 + SpanWriter.SizeOf(summary.Answered) + SpanWriter.SizeOf(summary.Missing) + SpanWriter.SizeOf(failedNames) + SpanWriter.SizeOf(failedMessages) + 1, crc);
        w.U32(gatherId);
        w.Strings(summary.Answered);
        w.Strings(summary.Missing);
        w.Strings(failedNames);
        w.Strings(failedMessages);
        w.U8(summary.Canceled ? (byte)1 : (byte)0);
        w.End(output);
    }

    /// <summary>GATHER_LATE: u32 gather id, u32 late count so far.</summary>
    public static void GatherLate(IBufferWriter<byte> output, bool crc, uint gatherId, uint late)
    {
        var w = SpanWriter.Begin(output, FrameType.GatherLate, 8, crc);
        w.U32(gatherId);
        w.U32(late);
        w.End(output);
    }

    /// <summary>Bytes a SENDER_LIST body takes besides its entries (corr, count, and the paged lists' more flag).</summary>
    public const int SenderListOverhead = 4 + 2 + 1;

    /// <summary>Bytes one sender takes in a SENDER_LIST.</summary>
    public static int SenderEntrySize(SenderInfo sender) =>
        SpanWriter.SizeOf(sender.Name) + SpanWriter.SizeOf(sender.Events) + SpanWriter.SizeOf(sender.Requests) + 1;

    /// <summary>
    /// SENDER_LIST: u32 corr, u16 count, then per sender: str name, list events, list requests, u8 has-default; then,
    /// when the client asked for paged lists (<see cref="Protocol.FeaturePagedLists"/>), u8 more (1: another page follows).
    /// </summary>
    public static void SenderList(IBufferWriter<byte> output, bool crc, uint correlation, SenderPage page)
    {
        var size = 4 + 2 + (page.More is null ? 0 : 1);
        for (var i = page.Start; i < page.End; i++)
        {
            size += SenderEntrySize(page.Senders[i]);
        }

        var w = SpanWriter.Begin(output, FrameType.SenderList, size, crc);
        w.U32(correlation);
        w.U16(SpanWriter.Count(page.End - page.Start, "senders in one SENDER_LIST"));
        for (var i = page.Start; i < page.End; i++)
        {
            var s = page.Senders[i];
            w.String(s.Name);
            w.Strings(s.Events);
            w.Strings(s.Requests);
            w.U8(s.HasDefaultHandler ? (byte)1 : (byte)0);
        }

        if (page.More is { } more)
        {
            w.U8(more ? (byte)1 : (byte)0);
        }

        w.End(output);
    }

    /// <summary>GOODBYE: no body.</summary>
    public static void Goodbye(IBufferWriter<byte> output, bool crc) => SpanWriter.Begin(output, FrameType.Goodbye, 0, crc).End(output);

    /// <summary>GOING_AWAY: str reason.</summary>
    public static void GoingAway(IBufferWriter<byte> output, bool crc, string reason)
    {
        var w = SpanWriter.Begin(output, FrameType.GoingAway, SpanWriter.SizeOf(reason), crc);
        w.String(reason);
        w.End(output);
    }
}
