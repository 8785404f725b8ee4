using System.Buffers;

namespace Switchboard.LoadTest;

/// <summary>The two brokers the load generator speaks to.</summary>
public enum BrokerKind
{
    /// <summary>A Switchboard broker: the binary protocol (src/Switchboard/Wire).</summary>
    Switchboard,

    /// <summary>nats-server: the NATS text protocol.</summary>
    Nats,
}

/// <summary>What a connection's parser reports. Implemented by <see cref="BenchConnection"/>, which answers pings itself.</summary>
internal interface IWireEvents
{
    /// <summary>The broker accepted the connection (WELCOME; INFO).</summary>
    void OnHandshake();

    /// <summary>The broker answered a barrier (OK to the FLUSH; PONG to our PING).</summary>
    void OnBarrier();

    /// <summary>The broker pinged us.</summary>
    void OnPing(ulong nonce);

    /// <summary>The broker reported an error.</summary>
    void OnError(string message, bool fatal);

    /// <summary>A message delivered to subscription <paramref name="sid"/>; <paramref name="payload"/> is valid only during the call.</summary>
    void OnMessage(int sid, ReadOnlySpan<byte> payload);

    /// <summary>A request for this connection's responder; answer it with <see cref="WireCodec.WriteReply"/> and <paramref name="replyTo"/>.</summary>
    void OnRequest(ReadOnlySpan<byte> replyTo, int payloadLength);

    /// <summary>The answer to request <paramref name="id"/>; <paramref name="ok"/> is false when the broker answered with an error.</summary>
    void OnReply(uint id, bool ok);
}

/// <summary>
/// One connection's encoder and parser. The scenarios only call these methods, so both brokers get the same
/// connections, the same pipelining, the same payloads and the same flow control; only the bytes differ.
/// Subjects are given in NATS form (<c>room1.temp</c>, <c>*</c> and <c>&gt;</c> wildcards); Switchboard maps them to
/// channel events (<c>#room1.temp</c>), which like NATS subjects reach every listener whoever publishes them.
/// </summary>
internal abstract class WireCodec
{
    public abstract BrokerKind Kind { get; }

    /// <summary>The codec of <paramref name="target"/>'s surface: WebSocket carries the binary protocol's bytes as they are.</summary>
    public static WireCodec Create(BrokerTarget target) => (target.Kind, target.Surface) switch
    {
        (BrokerKind.Nats, _) => new NatsCodec(),
        (_, Surface.JsonLines) => new JsonLinesCodec(),
        (_, Surface.Sse) => new SseCodec(),
        _ => new SwitchboardCodec(),
    };

    /// <summary>The first bytes a client sends (HELLO; CONNECT).</summary>
    public abstract void WriteHandshake(IBufferWriter<byte> output, string clientName);

    /// <summary>Something the broker answers only after processing everything sent before it (FLUSH; PING).</summary>
    public abstract void WriteBarrier(IBufferWriter<byte> output);

    /// <summary>A keep-alive probe.</summary>
    public abstract void WritePing(IBufferWriter<byte> output, ulong nonce);

    /// <summary>The answer to the broker's probe.</summary>
    public abstract void WritePong(IBufferWriter<byte> output, ulong nonce);

    /// <summary>A clean leave, if the protocol has one.</summary>
    public abstract void WriteGoodbye(IBufferWriter<byte> output);

    /// <summary>Whatever a publisher must do before publishing to <paramref name="subjects"/> (Switchboard: declare a sender).</summary>
    public abstract void WritePublisherSetup(IBufferWriter<byte> output, string publisher, IReadOnlyList<string> subjects);

    /// <summary>Subscribes <paramref name="subject"/> (wildcards allowed) as subscription <paramref name="sid"/>.</summary>
    public abstract void WriteSubscribe(IBufferWriter<byte> output, int sid, string subject);

    /// <summary>One publication of <paramref name="payload"/> to <paramref name="subject"/>.</summary>
    public abstract void WritePublish(IBufferWriter<byte> output, string publisher, string subject, ReadOnlyMemory<byte> payload);

    /// <summary>Makes this connection the responder for <paramref name="service"/> (Switchboard: a sender declaring request <c>echo</c>; NATS: SUB).</summary>
    public abstract void WriteResponderSetup(IBufferWriter<byte> output, string service);

    /// <summary>Makes this connection able to receive replies (NATS: one wildcard inbox subscription).</summary>
    public abstract void WriteRequesterSetup(IBufferWriter<byte> output, string inbox);

    /// <summary>A request <paramref name="id"/> to <paramref name="service"/>.</summary>
    public abstract void WriteRequest(IBufferWriter<byte> output, string service, uint id, ReadOnlyMemory<byte> payload);

    /// <summary>The answer to a request received with <paramref name="replyTo"/>.</summary>
    public abstract void WriteReply(IBufferWriter<byte> output, ReadOnlySpan<byte> replyTo, ReadOnlyMemory<byte> payload);

    /// <summary>Parses whole messages off the front of <paramref name="data"/>; returns the bytes consumed.</summary>
    public abstract int Parse(ReadOnlyMemory<byte> data, IWireEvents events);
}
