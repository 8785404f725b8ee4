namespace Switchboard.Wire;

/// <summary>OK: what a registration or call was answered with.</summary>
/// <param name="Correlation">The frame it answers.</param>
/// <param name="Detail">An optional detail (a producer's name), or null.</param>
public readonly record struct OkFrame(uint Correlation, string? Detail);

/// <summary>ERROR: a refusal or a protocol violation.</summary>
/// <param name="Correlation">The frame refused, or 0.</param>
/// <param name="Fatal">Whether the connection closes after it.</param>
/// <param name="Code">A stable code (<see cref="ErrorCodes"/>).</param>
/// <param name="Message">A sentence for people.</param>
public readonly record struct ErrorFrame(uint Correlation, bool Fatal, string Code, string Message);

/// <summary>REPLY: the answer to a request or a produce.</summary>
/// <param name="Id">The request or produce id.</param>
/// <param name="Ok">True for an answer, false for an error.</param>
/// <param name="Code">The error's code (empty for <see cref="ErrorCodes.HandlerError"/>), or null.</param>
/// <param name="Message">The error's message, or null.</param>
/// <param name="Data">The answer (lent from the frame or copied, as asked).</param>
public readonly record struct ReplyFrame(uint Id, bool Ok, string? Code, string? Message, Payload Data);

/// <summary>REQUEST_IN or PRODUCE_IN: a request for one of this client's senders, or a gather for one of its producers.</summary>
/// <param name="Id">Echo it in the REPLY.</param>
/// <param name="Target">The sender (or producer) asked.</param>
/// <param name="Name">The request name (or the topic).</param>
/// <param name="Headers">The headers.</param>
/// <param name="Data">The data (a copy: it outlives the receive buffer).</param>
public readonly record struct IncomingFrame(uint Id, string Target, string Name, MessageHeaders Headers, Payload Data);

/// <summary>GATHER_DONE: a gather's summary.</summary>
/// <param name="Id">The gather id.</param>
/// <param name="Answered">Producers that answered within the ttl.</param>
/// <param name="Missing">Producers that did not answer in time.</param>
/// <param name="Failed">Producers whose handler failed, with its message.</param>
/// <param name="Canceled">Whether the gather was canceled before its end.</param>
public readonly record struct GatherDoneFrame(uint Id, string[] Answered, string[] Missing, Dictionary<string, string> Failed, bool Canceled);

/// <summary>An ADD_SENDER frame, read.</summary>
public readonly record struct AddSenderFrame(uint Correlation, string Name, string[] Events, string[] Requests, bool HasDefault, string? WillEvent, Payload WillData);

public static partial class Frames
{
    /// <summary>Reads an ADD_SENDER body (a client's, or another node's).</summary>
    public static AddSenderFrame ReadAddSender(ReadOnlySpan<byte> body)
    {
        var r = new SpanReader(body, FrameType.AddSender);
        var frame = new AddSenderFrame(r.U32("correlation"), r.RequiredString("name"), r.Strings("events"), r.Strings("requests"),
            r.U8("has default") != 0, r.String("will event", emptyIsNull: true), r.Payload("will data"));
        r.End();
        return frame;
    }

    /// <summary>Reads an OK body.</summary>
    public static OkFrame ReadOk(ReadOnlySpan<byte> body)
    {
        var r = new SpanReader(body, FrameType.Ok);
        var frame = new OkFrame(r.U32("correlation"), r.String("detail", emptyIsNull: true));
        r.End();
        return frame;
    }

    /// <summary>Reads an ERROR body.</summary>
    public static ErrorFrame ReadError(ReadOnlySpan<byte> body)
    {
        var r = new SpanReader(body, FrameType.Error);
        var correlation = r.U32("correlation");
        var fatal = r.U8("fatal") != 0;
        var code = r.RequiredString("code");
        var message = r.String("message") ?? code;
        r.End();
        return new ErrorFrame(correlation, fatal, code, message);
    }

    /// <summary>Reads a REPLY; with <paramref name="lend"/> the data points into <paramref name="frame"/> (valid only
    /// while the receive buffer is), otherwise it is a copy.</summary>
    public static ReplyFrame ReadReply(ReadOnlyMemory<byte> frame, bool lend)
    {
        var r = new SpanReader(frame.Span, FrameType.Reply);
        var id = r.U32("id");
        var status = r.U8("status");
        var code = r.String("code");
        var message = r.String("message");
        var data = lend ? r.LentPayload("data", frame) : r.Payload("data");
        r.End();
        return new ReplyFrame(id, status == Protocol.ReplyOk, code, message, data);
    }

    /// <summary>Reads a REQUEST_IN or PRODUCE_IN body.</summary>
    public static IncomingFrame ReadIncoming(FrameType type, ReadOnlySpan<byte> body)
    {
        var r = new SpanReader(body, type);
        var frame = new IncomingFrame(r.U32("id"), r.RequiredString(type == FrameType.RequestIn ? "sender" : "producer"), r.RequiredString(type == FrameType.RequestIn ? "request" : "topic"), r.Headers("headers"), r.Payload("data"));
        r.End();
        return frame;
    }

    /// <summary>Reads a GATHER_DONE body.</summary>
    public static GatherDoneFrame ReadGatherDone(ReadOnlySpan<byte> body)
    {
        var r = new SpanReader(body, FrameType.GatherDone);
        var id = r.U32("gather id");
        var answered = r.Strings("answered");
        var missing = r.Strings("missing");
        var failedNames = r.Strings("failed");
        var failedMessages = r.Strings("failure messages");
        var canceled = r.U8("canceled") != 0;
        r.End();
        var failed = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < failedNames.Length && i < failedMessages.Length; i++)
        {
            failed[failedNames[i]] = failedMessages[i];
        }

        return new GatherDoneFrame(id, answered, missing, failed, canceled);
    }

    /// <summary>Reads a SENDER_LIST body; <paramref name="paged"/>: the client asked for pages, so it ends with the more flag.</summary>
    public static List<SenderInfo> ReadSenderList(ReadOnlySpan<byte> body, bool paged, out uint correlation, out bool more)
    {
        var r = new SpanReader(body, FrameType.SenderList);
        correlation = r.U32("correlation");
        var count = r.U16("count");
        var senders = new List<SenderInfo>(count);
        for (var i = 0; i < count; i++)
        {
            senders.Add(new SenderInfo(r.RequiredString("name"), r.Strings("events"), r.Strings("requests"), r.U8("has default") != 0));
        }

        more = paged && r.U8("more") != 0;
        r.End();
        return senders;
    }
}
