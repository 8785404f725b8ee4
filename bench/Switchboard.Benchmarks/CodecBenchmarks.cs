using System.Buffers;
using BenchmarkDotNet.Attributes;
using Switchboard.Wire;

namespace Switchboard.Benchmarks;

/// <summary>
/// The binary protocol's codec, per frame type: encoding straight into a reused buffer, and parsing a frame and every
/// one of its fields as spans (what the broker's hot path does; turning names into strings is the caller's choice,
/// and the broker looks them up by their characters instead). Both must allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private readonly ArrayBufferWriter<byte> _output = new(64 * 1024);
    private readonly FrameParser _parser = new();
    private readonly Payload _payload = new(new byte[16]);
    private readonly MessageHeaders _headers = MessageHeaders.Of(("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
    private byte[] _trigger = [];
    private byte[] _event = [];
    private byte[] _ping = [];
    private byte[] _request = [];

    [GlobalSetup]
    public void Setup()
    {
        _trigger = Encode(o => Frames.Trigger(o, false, "sensor-17", "#temperature", 0, null, _payload));
        _event = Encode(o => Frames.Event(o, false, 42, "sensor-17", "#temperature", _headers, _payload));
        _ping = Encode(o => Frames.PingPong(o, false, FrameType.Ping, 7));
        _request = Encode(o => Frames.Request(o, false, 9, "timer", "get_ticks", 1000, null, _payload));
        if (DecodeTrigger() != 16 || DecodeEvent() != 16 || DecodeRequest() != 16)
        {
            throw new InvalidOperationException("The codec did not round-trip; nothing to measure.");
        }
    }

    private static byte[] Encode(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    [Benchmark]
    public int EncodeTrigger()
    {
        _output.ResetWrittenCount();
        Frames.Trigger(_output, false, "sensor-17", "#temperature", 0, null, _payload);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int EncodeTriggerWithCrc()
    {
        _output.ResetWrittenCount();
        Frames.Trigger(_output, true, "sensor-17", "#temperature", 0, null, _payload);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int EncodeEventWithHeaders()
    {
        _output.ResetWrittenCount();
        Frames.Event(_output, false, 42, "sensor-17", "#temperature", _headers, _payload);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int EncodePing()
    {
        _output.ResetWrittenCount();
        Frames.PingPong(_output, false, FrameType.Ping, 7);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int EncodeRequest()
    {
        _output.ResetWrittenCount();
        Frames.Request(_output, false, 9, "timer", "get_ticks", 1000, null, _payload);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int DecodeTrigger()
    {
        var buffer = new ReadOnlySequence<byte>(_trigger);
        _parser.TryRead(ref buffer, out var type, out ReadOnlySpan<byte> body);
        var r = new SpanReader(body, type);
        var sender = r.StringBytes("sender");
        _ = r.U8("flags");
        _ = r.U16("count");
        var @event = r.StringBytes("event");
        _ = r.U16("headers");
        var data = r.PayloadBytes("data");
        r.End();
        return sender.Length + @event.Length > 0 ? data.Length : -1;
    }

    [Benchmark]
    public int DecodeEvent()
    {
        var buffer = new ReadOnlySequence<byte>(_event);
        _parser.TryRead(ref buffer, out var type, out ReadOnlySpan<byte> body);
        var r = new SpanReader(body, type);
        _ = r.U32("subscription");
        _ = r.StringBytes("sender");
        _ = r.StringBytes("event");
        var headers = r.U16("headers");
        for (var i = 0; i < headers; i++)
        {
            _ = r.StringBytes("name");
            _ = r.StringBytes("value");
        }

        var data = r.PayloadBytes("data");
        r.End();
        return data.Length;
    }

    [Benchmark]
    public ulong DecodePing()
    {
        var buffer = new ReadOnlySequence<byte>(_ping);
        _parser.TryRead(ref buffer, out var type, out ReadOnlySpan<byte> body);
        var r = new SpanReader(body, type);
        return r.U64("nonce");
    }

    [Benchmark]
    public int DecodeRequest()
    {
        var buffer = new ReadOnlySequence<byte>(_request);
        _parser.TryRead(ref buffer, out var type, out ReadOnlySpan<byte> body);
        var r = new SpanReader(body, type);
        _ = r.U32("id");
        _ = r.StringBytes("sender");
        _ = r.StringBytes("request");
        _ = r.U32("timeout");
        _ = r.U16("headers");
        var data = r.PayloadBytes("data");
        r.End();
        return data.Length;
    }
}
