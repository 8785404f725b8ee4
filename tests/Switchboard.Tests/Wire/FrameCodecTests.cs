using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Switchboard.Wire;

namespace Switchboard.Tests.Wire;

/// <summary>
/// The binary codec on its own: every encoder in <see cref="Frames"/> read back field by field through
/// <see cref="FrameParser"/> and <see cref="SpanReader"/> (with and without CRC), streams cut at every byte,
/// truncation, hostile lengths, checksums and the CRC-32C function itself.
/// </summary>
public sealed class FrameCodecTests
{
    private delegate void BodyCheck(ref SpanReader reader);

    private delegate void Step(ref SpanReader reader);

    private static readonly byte[] Data = [0x00, 0x01, 0xfe, 0xff, 0x42];

    // ---- round trips, one per encoder -------------------------------------------------------------------------

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Hello_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.Hello, w => Frames.Hello(w, crc, Protocol.Version, "démo-client", "tok:en", Protocol.FeatureCrc, 5000), (ref r) =>
        {
            Assert.Equal(Protocol.Version, r.U16("version"));
            Assert.Equal("démo-client", r.String("client"));
            Assert.Equal("tok:en", r.String("credentials", emptyIsNull: true));
            Assert.Equal(Protocol.FeatureCrc, r.U32("features"));
            Assert.Equal(5000u, r.U32("heartbeat"));
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Hello_without_credentials_reads_them_as_null(bool crc) =>
        RoundTrip(crc, FrameType.Hello, w => Frames.Hello(w, crc, 7, "", null, 0, 0), (ref r) =>
        {
            Assert.Equal(7, r.U16("version"));
            Assert.Equal(string.Empty, r.String("client"));
            Assert.Null(r.String("credentials", emptyIsNull: true));
            Assert.Equal(0u, r.U32("features"));
            Assert.Equal(0u, r.U32("heartbeat"));
        });

    [Theory]
    [InlineData(false, FrameType.Ping)]
    [InlineData(true, FrameType.Ping)]
    [InlineData(false, FrameType.Pong)]
    [InlineData(true, FrameType.Pong)]
    public void Ping_and_pong_round_trip(bool crc, FrameType type) =>
        RoundTrip(crc, type, w => Frames.PingPong(w, crc, type, 0x0123_4567_89ab_cdefUL), (ref r) =>
            Assert.Equal(0x0123_4567_89ab_cdefUL, r.U64("nonce")));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AddSender_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.AddSender, w => Frames.AddSender(w, crc, 0xdeadbeef, "timer", ["tick", "#temperature"], ["get_ticks", "reset"], true, "#temperature", Data), (ref r) =>
        {
            Assert.Equal(0xdeadbeefu, r.U32("correlation"));
            Assert.Equal("timer", r.RequiredString("name"));
            Assert.Equal(["tick", "#temperature"], r.Strings("events"));
            Assert.Equal(["get_ticks", "reset"], r.Strings("requests"));
            Assert.Equal(1, r.U8("has default"));
            Assert.Equal("#temperature", r.String("will event", emptyIsNull: true));
            Assert.Equal(Data, r.PayloadBytes("will data").ToArray());
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AddSender_without_requests_or_will_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.AddSender, w => Frames.AddSender(w, crc, 1, "s", [], [], false, null, default), (ref r) =>
        {
            Assert.Equal(1u, r.U32("correlation"));
            Assert.Equal("s", r.RequiredString("name"));
            Assert.Empty(r.Strings("events"));
            Assert.Empty(r.Strings("requests"));
            Assert.Equal(0, r.U8("has default"));
            Assert.Null(r.String("will event", emptyIsNull: true));
            Assert.True(r.Payload("will data").IsEmpty);
        });

    [Theory]
    [InlineData(false, FrameType.RemoveSender)]
    [InlineData(true, FrameType.RemoveSender)]
    [InlineData(false, FrameType.RemoveProducer)]
    [InlineData(true, FrameType.RemoveProducer)]
    public void RemoveByName_round_trips(bool crc, FrameType type) =>
        RoundTrip(crc, type, w => Frames.RemoveByName(w, crc, type, 99, "old-name"), (ref r) =>
        {
            Assert.Equal(99u, r.U32("correlation"));
            Assert.Equal("old-name", r.RequiredString("name"));
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Trigger_of_one_event_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.Trigger, w => Frames.Trigger(w, crc, "timer", "tick", Protocol.TriggerRetain, MessageHeaders.Of(("traceparent", "00-abc-01"), ("k", "")), Data), (ref r) =>
        {
            Assert.Equal("timer", r.RequiredString("sender"));
            Assert.Equal(Protocol.TriggerRetain, r.U8("flags"));
            Assert.Equal(1, r.U16("event count"));
            Assert.Equal("tick", r.RequiredString("event"));
            var headers = r.Headers("headers");
            Assert.Equal(2, headers.Count);
            Assert.Equal(new KeyValuePair<string, string>("traceparent", "00-abc-01"), headers[0]);
            Assert.Equal(new KeyValuePair<string, string>("k", ""), headers[1]);
            Assert.Equal(Data, r.Payload("data").Bytes.ToArray());
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Trigger_of_several_events_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.Trigger, w => Frames.Trigger(w, crc, "s1", ["#a", "#b.c", "#d"], 0, null, default), (ref r) =>
        {
            Assert.Equal("s1", r.RequiredString("sender"));
            Assert.Equal(0, r.U8("flags"));
            Assert.Equal(["#a", "#b.c", "#d"], r.Strings("events"));
            Assert.Same(MessageHeaders.Empty, r.Headers("headers"));
            Assert.True(r.Payload("data").IsEmpty);
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Trigger_with_a_one_event_list_is_the_same_bytes_as_the_single_form(bool crc)
    {
        var single = Encode(w => Frames.Trigger(w, crc, "s", "e", 0, MessageHeaders.Of(("a", "b")), Data));
        var list = Encode(w => Frames.Trigger(w, crc, "s", ["e"], 0, MessageHeaders.Of(("a", "b")), Data));
        Assert.Equal(single, list);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Listen_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.Listen, w => Frames.Listen(w, crc, 5, 77, "timer", "sensors.*.temp", "workers", true), (ref r) =>
        {
            Assert.Equal(5u, r.U32("correlation"));
            Assert.Equal(77u, r.U32("subscription"));
            Assert.Equal("timer", r.String("sender", emptyIsNull: true));
            Assert.Equal("sensors.*.temp", r.String("pattern", emptyIsNull: true));
            Assert.Equal("workers", r.String("group", emptyIsNull: true));
            Assert.Equal(1, r.U8("flags"));
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Listen_to_anything_writes_empty_strings(bool crc) =>
        RoundTrip(crc, FrameType.Listen, w => Frames.Listen(w, crc, 6, 1, null, null, null, false), (ref r) =>
        {
            Assert.Equal(6u, r.U32("correlation"));
            Assert.Equal(1u, r.U32("subscription"));
            Assert.Null(r.String("sender", emptyIsNull: true));
            Assert.Null(r.String("pattern", emptyIsNull: true));
            Assert.Null(r.String("group", emptyIsNull: true));
            Assert.Equal(0, r.U8("flags"));
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Unlisten_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.Unlisten, w => Frames.Unlisten(w, crc, 8, 77), (ref r) =>
        {
            Assert.Equal(8u, r.U32("correlation"));
            Assert.Equal(77u, r.U32("subscription"));
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Request_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.Request, w => Frames.Request(w, crc, 12, "timer", "get_ticks", 1500, MessageHeaders.Of(("h", "v")), Data), (ref r) =>
        {
            Assert.Equal(12u, r.U32("request id"));
            Assert.Equal("timer", r.RequiredString("sender"));
            Assert.Equal("get_ticks", r.RequiredString("request"));
            Assert.Equal(1500u, r.U32("timeout"));
            Assert.Equal("v", r.Headers("headers")["h"]);
            Assert.Equal(Data, r.Payload("data").Bytes.ToArray());
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reply_with_success_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.Reply, w => Frames.Reply(w, crc, 12, null, null, Data), (ref r) =>
        {
            Assert.Equal(12u, r.U32("id"));
            Assert.Equal(Protocol.ReplyOk, r.U8("status"));
            Assert.Equal(string.Empty, r.String("code"));
            Assert.Equal(string.Empty, r.String("message"));
            Assert.Equal(Data, r.Payload("data").Bytes.ToArray());
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reply_with_an_error_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.Reply, w => Frames.Reply(w, crc, 13, ErrorCodes.HandlerError, "division by zero", default), (ref r) =>
        {
            Assert.Equal(13u, r.U32("id"));
            Assert.Equal(Protocol.ReplyError, r.U8("status"));
            Assert.Equal(ErrorCodes.HandlerError, r.String("code"));
            Assert.Equal("division by zero", r.String("message"));
            Assert.True(r.Payload("data").IsEmpty);
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AddProducer_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.AddProducer, w => Frames.AddProducer(w, crc, 3, "p1", "g", ["topic1", "topic2"]), (ref r) =>
        {
            Assert.Equal(3u, r.U32("correlation"));
            Assert.Equal("p1", r.String("name", emptyIsNull: true));
            Assert.Equal("g", r.String("group", emptyIsNull: true));
            Assert.Equal(["topic1", "topic2"], r.Strings("topics"));
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AddProducer_without_name_or_group_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.AddProducer, w => Frames.AddProducer(w, crc, 4, null, null, ["t"]), (ref r) =>
        {
            Assert.Equal(4u, r.U32("correlation"));
            Assert.Null(r.String("name", emptyIsNull: true));
            Assert.Null(r.String("group", emptyIsNull: true));
            Assert.Equal(["t"], r.Strings("topics"));
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Gather_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.Gather, w => Frames.Gather(w, crc, 21, "topic1", 300, MessageHeaders.Of(("x", "y")), Data), (ref r) =>
        {
            Assert.Equal(21u, r.U32("gather id"));
            Assert.Equal("topic1", r.RequiredString("topic"));
            Assert.Equal(300u, r.U32("ttl"));
            Assert.Equal("y", r.Headers("headers")["x"]);
            Assert.Equal(Data, r.Payload("data").Bytes.ToArray());
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ListenResults_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.ListenResults, w => Frames.ListenResults(w, crc, 9, 31, "topic1"), (ref r) =>
        {
            Assert.Equal(9u, r.U32("correlation"));
            Assert.Equal(31u, r.U32("subscription"));
            Assert.Equal("topic1", r.RequiredString("topic"));
        });

    [Theory]
    [InlineData(false, FrameType.ListSenders)]
    [InlineData(true, FrameType.ListSenders)]
    [InlineData(false, FrameType.Flush)]
    [InlineData(true, FrameType.Flush)]
    public void Correlated_frames_round_trip(bool crc, FrameType type) =>
        RoundTrip(crc, type, w => Frames.Correlated(w, crc, type, 0xffffffff), (ref r) =>
            Assert.Equal(0xffffffffu, r.U32("correlation")));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Welcome_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.Welcome, w => Frames.Welcome(w, crc, Protocol.Version, "switchboard", Protocol.FeatureCrc, 5000, Protocol.DefaultMaxFrameSize), (ref r) =>
        {
            Assert.Equal(Protocol.Version, r.U16("version"));
            Assert.Equal("switchboard", r.String("server"));
            Assert.Equal(Protocol.FeatureCrc, r.U32("features"));
            Assert.Equal(5000u, r.U32("heartbeat"));
            Assert.Equal((uint)Protocol.DefaultMaxFrameSize, r.U32("max frame size"));
        });

    [Theory]
    [InlineData(false, null)]
    [InlineData(true, null)]
    [InlineData(false, "producer-1")]
    [InlineData(true, "producer-1")]
    public void Ok_round_trips(bool crc, string? detail) =>
        RoundTrip(crc, FrameType.Ok, w => Frames.Ok(w, crc, 42, detail), (ref r) =>
        {
            Assert.Equal(42u, r.U32("correlation"));
            Assert.Equal(detail, r.String("detail", emptyIsNull: true));
        });

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(true, false)]
    public void Error_round_trips(bool crc, bool fatal) =>
        RoundTrip(crc, FrameType.Error, w => Frames.Error(w, crc, 17, fatal, ErrorCodes.InvalidName, "Sender name 'a b' has a space at position 1."), (ref r) =>
        {
            Assert.Equal(17u, r.U32("correlation"));
            Assert.Equal(fatal ? 1 : 0, r.U8("fatal"));
            Assert.Equal(ErrorCodes.InvalidName, r.RequiredString("code"));
            Assert.Equal("Sender name 'a b' has a space at position 1.", r.String("message"));
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Event_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.Event, w => Frames.Event(w, crc, 1, "timer", "tick", MessageHeaders.Of(("a", "1"), ("a", "2")), Data), (ref r) =>
        {
            Assert.Equal(1u, r.U32("subscription"));
            Assert.Equal("timer", r.RequiredString("sender"));
            Assert.Equal("tick", r.RequiredString("event"));
            var headers = r.Headers("headers");
            Assert.Equal([KeyValuePair.Create("a", "1"), KeyValuePair.Create("a", "2")], headers.ToArray());
            Assert.Equal(Data, r.Payload("data").Bytes.ToArray());
        });

    [Theory]
    [InlineData(false, FrameType.RequestIn)]
    [InlineData(true, FrameType.RequestIn)]
    [InlineData(false, FrameType.ProduceIn)]
    [InlineData(true, FrameType.ProduceIn)]
    public void Incoming_round_trips(bool crc, FrameType type) =>
        RoundTrip(crc, type, w => Frames.Incoming(w, crc, type, 1000, "timer", "get_ticks", null, Data), (ref r) =>
        {
            Assert.Equal(1000u, r.U32("id"));
            Assert.Equal("timer", r.RequiredString("target"));
            Assert.Equal("get_ticks", r.RequiredString("name"));
            Assert.Same(MessageHeaders.Empty, r.Headers("headers"));
            Assert.Equal(Data, r.Payload("data").Bytes.ToArray());
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GatherResult_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.GatherResult, w => Frames.GatherResult(w, crc, 21, "p1", Data), (ref r) =>
        {
            Assert.Equal(21u, r.U32("gather id"));
            Assert.Equal("p1", r.RequiredString("producer"));
            Assert.Equal(Data, r.Payload("data").Bytes.ToArray());
        });

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void GatherDone_round_trips(bool crc, bool canceled)
    {
        var failed = new Dictionary<string, string>(StringComparer.Ordinal) { ["p3"] = "boom", ["p4"] = "bang" };
        var summary = new GatherSummary("topic1", ["p1", "p2"], ["p5"], failed, canceled, () => 0);
        RoundTrip(crc, FrameType.GatherDone, w => Frames.GatherDone(w, crc, 21, summary), (ref r) =>
        {
            Assert.Equal(21u, r.U32("gather id"));
            Assert.Equal(["p1", "p2"], r.Strings("answered"));
            Assert.Equal(["p5"], r.Strings("missing"));
            var names = r.Strings("failed");
            var messages = r.Strings("failure messages");
            Assert.Equal(2, names.Length);
            Assert.Equal(names.Length, messages.Length);
            for (var i = 0; i < names.Length; i++)
            {
                Assert.Equal(failed[names[i]], messages[i]);
            }

            Assert.Equal(canceled ? 1 : 0, r.U8("canceled"));
        });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GatherLate_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.GatherLate, w => Frames.GatherLate(w, crc, 21, 3), (ref r) =>
        {
            Assert.Equal(21u, r.U32("gather id"));
            Assert.Equal(3u, r.U32("late"));
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SenderList_round_trips(bool crc)
    {
        SenderInfo[] senders =
        [
            new("a", ["tick", "#temp"], ["get"], false),
            new("b", [], [], true),
        ];
        RoundTrip(crc, FrameType.SenderList, w => Frames.SenderList(w, crc, 4, new SenderPage(senders, 0, senders.Length, null)), (ref r) =>
        {
            Assert.Equal(4u, r.U32("correlation"));
            Assert.Equal(2, r.U16("count"));
            foreach (var expected in senders)
            {
                Assert.Equal(expected.Name, r.RequiredString("name"));
                Assert.Equal(expected.Events, r.Strings("events"));
                Assert.Equal(expected.Requests, r.Strings("requests"));
                Assert.Equal(expected.HasDefaultHandler ? 1 : 0, r.U8("has default"));
            }
        });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SenderList_empty_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.SenderList, w => Frames.SenderList(w, crc, 5, new SenderPage([], 0, 0, null)), (ref r) =>
        {
            Assert.Equal(5u, r.U32("correlation"));
            Assert.Equal(0, r.U16("count"));
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_sender_list_page_carries_its_share_and_the_more_flag(bool crc)
    {
        SenderInfo[] senders = [new("a", [], [], false), new("b", ["#x"], [], false), new("c", [], ["get"], true)];
        RoundTrip(crc, FrameType.SenderList, w => Frames.SenderList(w, crc, 6, new SenderPage(senders, 1, 3, true)), (ref r) =>
        {
            Assert.Equal(6u, r.U32("correlation"));
            Assert.Equal(2, r.U16("count"));
            Assert.Equal("b", r.RequiredString("name"));
            Assert.Equal(["#x"], r.Strings("events"));
            Assert.Empty(r.Strings("requests"));
            Assert.Equal(0, r.U8("has default"));
            Assert.Equal("c", r.RequiredString("name"));
            Assert.Empty(r.Strings("events"));
            Assert.Equal(["get"], r.Strings("requests"));
            Assert.Equal(1, r.U8("has default"));
            Assert.Equal(1, r.U8("more"));
        });
    }

    [Fact]
    public void Sender_lists_are_split_into_pages_that_fit_the_clients_frames()
    {
        var senders = Enumerable.Range(0, 5000).Select(i => new SenderInfo($"sender-{i:D5}", ["#temperature", "#status"], ["get"], false)).ToArray();
        var pages = new List<SenderPage>();
        Assert.True(SenderPages.TrySplit(senders, Protocol.MinPeerMaxFrameSize, paged: true, pages, out _));
        Assert.True(pages.Count > 1);
        Assert.Equal(senders.Length, pages.Sum(p => p.End - p.Start));
        Assert.All(pages[..^1], p => Assert.True(p.More));
        Assert.False(pages[^1].More);
        for (var i = 1; i < pages.Count; i++)
        {
            Assert.Equal(pages[i - 1].End, pages[i].Start);
        }

        Assert.All(pages, p => Assert.InRange(Encode(w => Frames.SenderList(w, true, 1, p)).Length - 4, 1, Protocol.MinPeerMaxFrameSize));

        pages.Clear();
        Assert.False(SenderPages.TrySplit(senders, Protocol.MinPeerMaxFrameSize, paged: false, pages, out var unpaged));
        Assert.Contains("paged-lists feature", unpaged, StringComparison.Ordinal);
        Assert.True(SenderPages.TrySplit(senders[..10], Protocol.MinPeerMaxFrameSize, paged: false, pages, out _));
        Assert.Null(Assert.Single(pages).More);

        pages.Clear();
        SenderInfo[] huge = [new("big", Enumerable.Range(0, 10_000).Select(i => $"#event.{i}").ToArray(), [], false)];
        Assert.False(SenderPages.TrySplit(huge, Protocol.MinPeerMaxFrameSize, paged: true, pages, out var alone));
        Assert.Contains("Sender 'big' alone", alone, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Goodbye_round_trips_with_an_empty_body(bool crc)
    {
        var bytes = Encode(w => Frames.Goodbye(w, crc));
        Assert.Equal(crc ? 10 : 6, bytes.Length);
        RoundTrip(crc, FrameType.Goodbye, w => Frames.Goodbye(w, crc), (ref r) => Assert.Equal(0, r.Remaining));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GoingAway_round_trips(bool crc) =>
        RoundTrip(crc, FrameType.GoingAway, w => Frames.GoingAway(w, crc, "shutting down"), (ref r) =>
            Assert.Equal("shutting down", r.String("reason")));

    [Fact]
    public void Strings_are_u16_length_and_utf8_bytes_and_payloads_i32_length()
    {
        // "é" is 2 UTF-8 bytes: the length prefix counts bytes, not characters.
        var bytes = Encode(w => Frames.GoingAway(w, false, "é"));
        Assert.Equal([6, 0, 0, 0, (byte)FrameType.GoingAway, 0, 2, 0, 0xc3, 0xa9], bytes);
        var result = Encode(w => Frames.GatherResult(w, false, 0x01020304, "p", new byte[] { 9 }));
        Assert.Equal([0x0e, 0, 0, 0, (byte)FrameType.GatherResult, 0, 4, 3, 2, 1, 1, 0, (byte)'p', 1, 0, 0, 0, 9], result);
    }

    [Fact]
    public void The_hex_examples_in_docs_protocol_md_are_what_the_encoders_write()
    {
        AssertHex("1400000001000100040064656d6f00000000000088130000",
            w => Frames.Hello(w, false, Protocol.Version, "demo", null, 0, 5000));
        AssertHex("1e00000001010100040064656d6f06007333637265740100000088130000590379f5",
            w => Frames.Hello(w, true, Protocol.Version, "demo", "s3cret", Protocol.FeatureCrc, 5000));
        AssertHex("1d000000810001000b00737769746368626f617264010000008813000000001000",
            w => Frames.Welcome(w, false, Protocol.Version, "switchboard", Protocol.FeatureCrc, 5000, Protocol.DefaultMaxFrameSize));
        AssertHex("25000000100001000000050074696d6572020004007469636b05002374656d70000000000000000000",
            w => Frames.AddSender(w, false, 1, "timer", ["tick", "#temp"], [], false, null, default));
        AssertHex("080000008200010000000000", w => Frames.Ok(w, false, 1));
        AssertHex("1a00000013000200000001000000050074696d657204007469636b000000",
            w => Frames.Listen(w, false, 2, 1, "timer", "tick", null, false));
        AssertHex("1a0000001200050074696d657200010004007469636b0000020000003432",
            w => Frames.Trigger(w, false, "timer", "tick", 0, null, Payload.Utf8("42")));
        AssertHex("1b000000840001000000050074696d657204007469636b0000020000003432",
            w => Frames.Event(w, false, 1, "timer", "tick", null, Payload.Utf8("42")));
        AssertHex("21000000840001000000050074696d657204007469636b010001006b010076020000003432",
            w => Frames.Event(w, false, 1, "timer", "tick", MessageHeaders.Of(("k", "v")), Payload.Utf8("42")));
        AssertHex("0e00000002010100000000000000bfda9fcd", w => Frames.PingPong(w, true, FrameType.Ping, 1));
        AssertHex("19000000830000000000010d00756e6b6e6f776e5f6672616d65010078",
            w => Frames.Error(w, false, 0, true, ErrorCodes.UnknownFrame, "x"));

        static void AssertHex(string expected, Action<IBufferWriter<byte>> write) =>
            Assert.Equal(expected, Convert.ToHexStringLower(Encode(write)));
    }

    // ---- streams cut anywhere ----------------------------------------------------------------------------------

    /// <summary>Several frames back to back, some with a CRC, one large enough to span many small segments.</summary>
    private static byte[] SampleStream(out List<(FrameType Type, byte[] Body)> frames)
    {
        var parts = new List<byte[]>
        {
            Encode(w => Frames.Hello(w, false, Protocol.Version, "c", null, Protocol.FeatureCrc, 5000)),
            Encode(w => Frames.AddSender(w, true, 1, "timer", ["tick"], [], false, null, default)),
            Encode(w => Frames.Goodbye(w, false)),
            Encode(w => Frames.Trigger(w, true, "timer", "tick", 0, MessageHeaders.Of(("k", "v")), new byte[300])),
            Encode(w => Frames.PingPong(w, false, FrameType.Ping, 7)),
            Encode(w => Frames.Goodbye(w, true)),
            Encode(w => Frames.Event(w, false, 1, "timer", "tick", null, Encoding.UTF8.GetBytes("42"))),
        };
        frames = [.. parts.Select(p => ParseOne(p))];
        return [.. parts.SelectMany(p => p)];
    }

    [Fact]
    public void A_stream_split_at_every_byte_position_parses_the_same_frames()
    {
        var stream = SampleStream(out var expected);
        for (var split = 0; split <= stream.Length; split++)
        {
            var sequence = Segment.Create(stream.AsMemory(0, split), stream.AsMemory(split));
            Assert.False(sequence.IsSingleSegment);
            AssertFrames(expected, ParseAll(new FrameParser(), ref sequence), $"split at {split}");
            Assert.True(sequence.IsEmpty);
        }
    }

    [Fact]
    public void A_stream_split_at_every_pair_of_positions_parses_the_same_frames()
    {
        var stream = SampleStream(out var expected)[..80];
        expected = [.. ParseAllWhole(stream)];
        Assert.True(expected.Count >= 3);
        var parser = new FrameParser();
        for (var i = 0; i <= stream.Length; i++)
        {
            for (var j = i; j <= stream.Length; j++)
            {
                var sequence = Segment.Create(stream.AsMemory(0, i), stream.AsMemory(i, j - i), stream.AsMemory(j));
                AssertFrames(expected, ParseAll(parser, ref sequence), $"split at {i} and {j}");
            }
        }
    }

    [Fact]
    public void A_stream_of_one_byte_segments_parses_the_same_frames()
    {
        var stream = SampleStream(out var expected);
        var sequence = Segment.Create([.. Enumerable.Range(0, stream.Length).Select(i => stream.AsMemory(i, 1))]);
        AssertFrames(expected, ParseAll(new FrameParser(), ref sequence), "one byte per segment");
        Assert.True(sequence.IsEmpty);
    }

    [Fact]
    public void A_stream_fed_one_byte_at_a_time_parses_each_frame_once_it_is_whole()
    {
        var stream = SampleStream(out var expected);
        var parser = new FrameParser();
        var parsed = new List<(FrameType, byte[])>();
        var consumed = 0;
        for (var available = 0; available <= stream.Length; available++)
        {
            // What a pipe would hold now: the unconsumed bytes, one per segment.
            var sequence = Segment.Create([.. Enumerable.Range(consumed, available - consumed).Select(i => stream.AsMemory(i, 1))]);
            var before = sequence.Length;
            parsed.AddRange(ParseAll(parser, ref sequence));
            consumed += (int)(before - sequence.Length);
        }

        Assert.Equal(stream.Length, consumed);
        AssertFrames(expected, parsed, "fed byte by byte");
    }

    [Fact]
    public void Every_truncation_of_a_frame_returns_false_and_consumes_nothing()
    {
        byte[][] frames =
        [
            Encode(w => Frames.AddSender(w, false, 1, "timer", ["tick", "#t"], ["r"], true, "#t", Data)),
            Encode(w => Frames.AddSender(w, true, 1, "timer", ["tick", "#t"], ["r"], true, "#t", Data)),
            Encode(w => Frames.Goodbye(w, false)),
            Encode(w => Frames.Event(w, true, 1, "s", "e", MessageHeaders.Of(("a", "b")), Data)),
        ];
        foreach (var frame in frames)
        {
            for (var length = 0; length < frame.Length; length++)
            {
                var parser = new FrameParser();
                var whole = new ReadOnlySequence<byte>(frame, 0, length);
                Assert.False(parser.TryRead(ref whole, out _, out _), $"{length} of {frame.Length} bytes");
                Assert.Equal(length, whole.Length);

                var pieces = Segment.Create([.. Enumerable.Range(0, length).Select(i => frame.AsMemory(i, 1))]);
                Assert.False(parser.TryRead(ref pieces, out _, out _), $"{length} of {frame.Length} bytes in 1-byte segments");
                Assert.Equal(length, pieces.Length);
            }
        }
    }

    // ---- hostile lengths ---------------------------------------------------------------------------------------

    [Theory]
    [InlineData(Protocol.DefaultMaxFrameSize, Protocol.DefaultMaxFrameSize + 1)]
    [InlineData(Protocol.DefaultMaxFrameSize, int.MaxValue)]
    [InlineData(Protocol.DefaultMaxFrameSize, 0x20544547)] // "GET " read as a length
    [InlineData(64, 65)]
    public void A_length_over_the_limit_throws_frame_too_large_from_the_length_alone(int max, int length)
    {
        var parser = new FrameParser(max);
        var header = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(header, length);
        var buffer = new ReadOnlySequence<byte>(header);
        var error = Assert.Throws<ProtocolException>(() => parser.TryRead(ref buffer, out _, out _));
        Assert.Equal(ErrorCodes.FrameTooLarge, error.Code);
        Assert.Contains(length.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
        Assert.Contains(max.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Protocol.DefaultMaxFrameSize)]
    [InlineData(64)]
    public void A_length_at_the_limit_waits_for_the_body(int max)
    {
        var parser = new FrameParser(max);
        var header = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(header, max);
        var buffer = new ReadOnlySequence<byte>(header);
        Assert.False(parser.TryRead(ref buffer, out _, out _));
        Assert.Equal(4, buffer.Length);
    }

    [Fact]
    public void A_frame_at_the_limit_parses()
    {
        var parser = new FrameParser(64);
        var frame = Encode(w => Frames.GatherResult(w, false, 1, "p", new byte[64 - 2 - 4 - 3 - 4]));
        Assert.Equal(68, frame.Length);
        var buffer = new ReadOnlySequence<byte>(frame);
        Assert.True(parser.TryRead(ref buffer, out var type, out var body));
        Assert.Equal(FrameType.GatherResult, type);
        Assert.Equal(62, body.Length);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    [InlineData(0)]
    [InlineData(1)]
    public void A_negative_or_too_short_length_throws_malformed_frame(int length)
    {
        var parser = new FrameParser();
        var header = new byte[6];
        BinaryPrimitives.WriteInt32LittleEndian(header, length);
        var buffer = new ReadOnlySequence<byte>(header);
        var error = Assert.Throws<ProtocolException>(() => parser.TryRead(ref buffer, out _, out _));
        Assert.Equal(ErrorCodes.MalformedFrame, error.Code);
        Assert.Contains("below the minimum", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    public void A_crc_flag_without_room_for_the_crc_throws_malformed_frame(int length)
    {
        var frame = new byte[4 + length];
        BinaryPrimitives.WriteInt32LittleEndian(frame, length);
        frame[4] = (byte)FrameType.Goodbye;
        frame[5] = Protocol.FlagCrc;
        var buffer = new ReadOnlySequence<byte>(frame);
        var error = Assert.Throws<ProtocolException>(() => new FrameParser().TryRead(ref buffer, out _, out _));
        Assert.Equal(ErrorCodes.MalformedFrame, error.Code);
    }

    // ---- checksums ---------------------------------------------------------------------------------------------

    [Fact]
    public void A_flipped_byte_in_a_crc_frame_throws_bad_checksum_and_the_parser_goes_on_with_the_next_frame()
    {
        var first = Encode(w => Frames.Event(w, true, 1, "timer", "tick", MessageHeaders.Of(("k", "v")), Data));
        var second = Encode(w => Frames.Ok(w, true, 9, "next"));
        // Every byte after the length: type, flags (bit 6, so the CRC flag stays set), body and the CRC itself.
        for (var position = 4; position < first.Length; position++)
        {
            var stream = first.Concat(second).ToArray();
            stream[position] ^= 0x40;
            var parser = new FrameParser();
            var buffer = Segment.Create(stream.AsMemory(0, position), stream.AsMemory(position));
            var error = Assert.Throws<ProtocolException>(() => parser.TryRead(ref buffer, out _, out _));
            Assert.Equal(ErrorCodes.BadChecksum, error.Code);
            Assert.Equal(1, parser.ChecksumFailures);
            Assert.Equal(second.Length, buffer.Length);

            Assert.True(parser.TryRead(ref buffer, out var type, out var body), $"flip at {position}");
            Assert.Equal(FrameType.Ok, type);
            var r = new SpanReader(body, type);
            Assert.Equal(9u, r.U32("correlation"));
            Assert.Equal("next", r.String("detail"));
            r.End();
            Assert.True(buffer.IsEmpty);
            Assert.Equal(1, parser.ChecksumFailures);
        }
    }

    [Fact]
    public void A_frame_without_the_crc_flag_is_not_checked()
    {
        var frame = Encode(w => Frames.Ok(w, false, 1));
        var buffer = new ReadOnlySequence<byte>(frame);
        Assert.True(new FrameParser().TryRead(ref buffer, out var type, out var body));
        Assert.Equal(FrameType.Ok, type);
        Assert.Equal(6, body.Length);
    }

    [Theory]
    [InlineData("", 0x00000000u)]
    [InlineData("a", 0xc1d04330u)]
    [InlineData("123456789", 0xe3069283u)]
    [InlineData("The quick brown fox jumps over the lazy dog", 0x22620404u)]
    public void Crc32C_matches_known_vectors_for_text(string text, uint expected) =>
        Assert.Equal(expected, Crc32C.Compute(Encoding.ASCII.GetBytes(text)));

    [Fact]
    public void Crc32C_matches_the_rfc_3720_vectors()
    {
        // RFC 3720 (iSCSI), appendix B.4.
        Assert.Equal(0x8a9136aau, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62a8ab43u, Crc32C.Compute(Enumerable.Repeat((byte)0xff, 32).ToArray()));
        Assert.Equal(0x46dd794eu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
        Assert.Equal(0x113fdb5cu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray()));
    }

    [Fact]
    public void Crc32C_continues_across_pieces_of_any_length()
    {
        var data = Enumerable.Range(0, 100).Select(i => (byte)(i * 7 + 3)).ToArray();
        var whole = Crc32C.Compute(data);
        for (var split = 0; split <= data.Length; split++)
        {
            Assert.Equal(whole, Crc32C.Compute(data.AsSpan(split), Crc32C.Compute(data.AsSpan(0, split))));
        }

        // Unaligned starts take the same path as aligned ones.
        Assert.Equal(0xe3069283u, Crc32C.Compute("x123456789"u8[1..]));
    }

    // ---- the reader on bad bodies ------------------------------------------------------------------------------

    [Fact]
    public void SpanReader_on_a_truncated_AddSender_names_the_field_that_is_cut()
    {
        var body = Body(Encode(w => Frames.AddSender(w, false, 1, "timer", ["tick", "#t"], ["get"], true, "#t", Data)));
        AssertTruncationsNameTheField(body, FrameType.AddSender,
        [
            ("correlation", (ref r) => r.U32("correlation")),
            ("name", (ref r) => r.RequiredString("name")),
            ("events", (ref r) => r.Strings("events")),
            ("requests", (ref r) => r.Strings("requests")),
            ("has default", (ref r) => r.U8("has default")),
            ("will event", (ref r) => r.String("will event")),
            ("will data", (ref r) => r.PayloadBytes("will data")),
        ]);
    }

    [Fact]
    public void SpanReader_on_a_truncated_Event_names_the_field_that_is_cut()
    {
        var body = Body(Encode(w => Frames.Event(w, false, 3, "timer", "tick", MessageHeaders.Of(("name", "value")), Data)));
        AssertTruncationsNameTheField(body, FrameType.Event,
        [
            ("subscription", (ref r) => r.U32("subscription")),
            ("sender", (ref r) => r.RequiredString("sender")),
            ("event", (ref r) => r.RequiredString("event")),
            ("headers", (ref r) => r.Headers("headers")),
            ("data", (ref r) => r.Payload("data")),
        ]);
    }

    [Fact]
    public void SpanReader_on_a_truncated_Hello_names_the_field_that_is_cut()
    {
        var body = Body(Encode(w => Frames.Hello(w, false, 1, "client", "secret", 1, 5000)));
        AssertTruncationsNameTheField(body, FrameType.Hello,
        [
            ("version", (ref r) => r.U16("version")),
            ("client", (ref r) => r.String("client")),
            ("credentials", (ref r) => r.String("credentials")),
            ("features", (ref r) => r.U32("features")),
            ("heartbeat", (ref r) => r.U32("heartbeat")),
        ]);
    }

    [Fact]
    public void SpanReader_refuses_a_negative_payload_length()
    {
        byte[] body = [0xff, 0xff, 0xff, 0xff];
        var error = Assert.Throws<ProtocolException>(() => new SpanReader(body, FrameType.Event).Payload("data"));
        Assert.Equal(ErrorCodes.MalformedFrame, error.Code);
        Assert.Contains("data length is negative", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SpanReader_refuses_invalid_utf8_naming_the_field()
    {
        byte[] body = [2, 0, 0xc3, 0x28];
        var error = Assert.Throws<ProtocolException>(() => new SpanReader(body, FrameType.AddSender).String("name"));
        Assert.Equal(ErrorCodes.MalformedFrame, error.Code);
        Assert.Contains("the name field is not valid UTF-8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SpanReader_refuses_a_list_longer_than_the_body()
    {
        byte[] body = [0xff, 0xff, 0, 0];
        var error = Assert.Throws<ProtocolException>(() => new SpanReader(body, FrameType.AddSender).Strings("events"));
        Assert.Equal(ErrorCodes.MalformedFrame, error.Code);
        Assert.Contains("the events list claims 65535 entries", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SpanReader_refuses_an_empty_required_string_and_an_empty_header_name()
    {
        byte[] empty = [0, 0];
        var error = Assert.Throws<ProtocolException>(() => new SpanReader(empty, FrameType.Trigger).RequiredString("sender"));
        Assert.Equal(ErrorCodes.MalformedFrame, error.Code);
        Assert.Contains("the sender field is empty", error.Message, StringComparison.Ordinal);

        byte[] header = [1, 0, 0, 0, 0, 0];
        error = Assert.Throws<ProtocolException>(() => new SpanReader(header, FrameType.Trigger).Headers("headers"));
        Assert.Contains("the headers name field is empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SpanReader_End_refuses_bytes_left_over()
    {
        byte[] body = [1, 0, 0, 0, 0xaa];
        var error = Assert.Throws<ProtocolException>(() =>
        {
            var r = new SpanReader(body, FrameType.Flush);
            r.U32("correlation");
            r.End();
        });
        Assert.Equal(ErrorCodes.MalformedFrame, error.Code);
        Assert.Contains("1 bytes left over", error.Message, StringComparison.Ordinal);
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private static byte[] Encode(Action<IBufferWriter<byte>> write)
    {
        var output = new ArrayBufferWriter<byte>();
        write(output);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Checks the frame's header and CRC bytes, parses it, runs <paramref name="check"/> on the body and checks nothing is left.</summary>
    private static void RoundTrip(bool crc, FrameType expected, Action<IBufferWriter<byte>> write, BodyCheck check)
    {
        var bytes = Encode(write);
        Assert.Equal(bytes.Length - 4, BinaryPrimitives.ReadInt32LittleEndian(bytes));
        Assert.Equal((byte)expected, bytes[4]);
        Assert.Equal(crc ? Protocol.FlagCrc : 0, bytes[5]);
        if (crc)
        {
            Assert.Equal(Crc32C.Compute(bytes.AsSpan(4, bytes.Length - 8)), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4)));
        }

        var parser = new FrameParser();
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.True(parser.TryRead(ref buffer, out var type, out var body));
        Assert.Equal(expected, type);
        Assert.True(buffer.IsEmpty);
        Assert.Equal(bytes.Length - Protocol.HeaderSize - (crc ? 4 : 0), body.Length);
        var reader = new SpanReader(body, type);
        check(ref reader);
        reader.End();
        Assert.Equal(0, parser.ChecksumFailures);
    }

    private static (FrameType Type, byte[] Body) ParseOne(byte[] frame)
    {
        var buffer = new ReadOnlySequence<byte>(frame);
        Assert.True(new FrameParser().TryRead(ref buffer, out var type, out var body));
        Assert.True(buffer.IsEmpty);
        return (type, body.ToArray());
    }

    private static byte[] Body(byte[] frame) => ParseOne(frame).Body;

    private static List<(FrameType Type, byte[] Body)> ParseAllWhole(byte[] stream)
    {
        var buffer = new ReadOnlySequence<byte>(stream);
        return ParseAll(new FrameParser(), ref buffer);
    }

    /// <summary>Takes every whole frame off the front; the bodies are copied before the next call reuses the scratch buffer.</summary>
    private static List<(FrameType Type, byte[] Body)> ParseAll(FrameParser parser, ref ReadOnlySequence<byte> buffer)
    {
        var frames = new List<(FrameType, byte[])>();
        while (parser.TryRead(ref buffer, out var type, out var body))
        {
            frames.Add((type, body.ToArray()));
        }

        return frames;
    }

    private static void AssertFrames(List<(FrameType Type, byte[] Body)> expected, List<(FrameType Type, byte[] Body)> actual, string what)
    {
        Assert.True(expected.Count == actual.Count, $"{what}: {actual.Count} frames instead of {expected.Count}");
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].Type == actual[i].Type, $"{what}: frame {i} is {actual[i].Type}, not {expected[i].Type}");
            Assert.True(expected[i].Body.AsSpan().SequenceEqual(actual[i].Body), $"{what}: frame {i} ({actual[i].Type}) has a different body");
        }
    }

    /// <summary>
    /// Reads the whole body once to learn where each field ends, then, for every shorter body, reads again and expects a
    /// malformed_frame error that names the first field not wholly present.
    /// </summary>
    private static void AssertTruncationsNameTheField(byte[] body, FrameType type, (string Field, Step Read)[] steps)
    {
        var ends = new int[steps.Length];
        var whole = new SpanReader(body, type);
        for (var i = 0; i < steps.Length; i++)
        {
            steps[i].Read(ref whole);
            ends[i] = body.Length - whole.Remaining;
        }

        whole.End();
        for (var length = 0; length < body.Length; length++)
        {
            var cut = body[..length];
            var failing = Array.FindIndex(ends, end => end > length);
            var error = Assert.Throws<ProtocolException>(() =>
            {
                var r = new SpanReader(cut, type);
                foreach (var (_, read) in steps)
                {
                    read(ref r);
                }
            });
            Assert.Equal(ErrorCodes.MalformedFrame, error.Code);
            Assert.Contains($"the {steps[failing].Field} ", error.Message, StringComparison.Ordinal);
            Assert.StartsWith(type.ToString(), error.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>A segment of a hand-built multi-segment <see cref="ReadOnlySequence{T}"/>.</summary>
    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        private Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Create(params ReadOnlyMemory<byte>[] pieces)
        {
            if (pieces.Length == 0)
            {
                return ReadOnlySequence<byte>.Empty;
            }

            var first = new Segment(pieces[0], 0);
            var last = first;
            foreach (var piece in pieces.AsSpan(1))
            {
                var next = new Segment(piece, last.RunningIndex + last.Memory.Length);
                last.Next = next;
                last = next;
            }

            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}
