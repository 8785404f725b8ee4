using System.Text;
using Switchboard.Server;

namespace Switchboard.Tests.JsonLines;

/// <summary>
/// Bad lines of every kind on a real broker: each gets an error line with the right code (and the line's id when it
/// could be read), and the connection stays with everything it registered: a trigger afterwards still reaches its
/// listen, whose sequence goes on where it was.
/// </summary>
public sealed class JsonLinesHostileInputTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string, int?> BadLines => new()
    {
        { "garbage", ErrorCodes.InvalidJson, null },
        { """{"op":"trigger","sender":"s1" """, ErrorCodes.InvalidJson, null },
        { """{"op":"ping"} {"op":"ping"}""", ErrorCodes.InvalidJson, null },
        { """{"op":'ping'}""", ErrorCodes.InvalidJson, null },
        { "[1,2]", ErrorCodes.InvalidJson, null },
        { "\"just a string\"", ErrorCodes.InvalidJson, null },
        { "42", ErrorCodes.InvalidJson, null },
        { "", ErrorCodes.InvalidJson, null },
        { """{"op":"trigger","sender":"s1","sender":"s2","event":"e"}""", ErrorCodes.InvalidJson, null },
        { "  \t ", ErrorCodes.InvalidJson, null },
        { new string('[', 100) + new string(']', 100), ErrorCodes.InvalidJson, null },
        { "{}", ErrorCodes.UnknownOp, null },
        { """{"op":5,"id":1}""", ErrorCodes.UnknownOp, 1 },
        { """{"op":"fly","id":1}""", ErrorCodes.UnknownOp, 1 },
        { """{"op":"TRIGGER","sender":"s1","event":"tick","id":1}""", ErrorCodes.UnknownOp, 1 },
        { """{"op":"hello","client":"late","id":1}""", ErrorCodes.UnexpectedHello, 1 },
        { """{"op":"ping","id":{"a":1}}""", ErrorCodes.InvalidField, null },
        { """{"op":"ping","id":[1]}""", ErrorCodes.InvalidField, null },
        { """{"op":"sender","name":5,"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"sender","events":["x"],"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"sender","name":"x","events":"tick","id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"sender","name":"x","events":["a",1],"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"sender","name":"x","will":"tick","id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"sender","name":"x","events":["e"],"will":{"data":1},"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"trigger","sender":"s1","id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"trigger","sender":"s1","event":"tick","events":["tick"],"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"trigger","sender":"s1","events":[],"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"trigger","sender":"s1","event":"tick","retain":"yes","id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"trigger","event":"tick","id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"listen","sender":["s1"],"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"listen","sender":"s1","group":7,"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"unlisten","id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"unlisten","listen":true,"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"request","sender":"s1","request":"r","timeout_ms":-5,"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"request","sender":"s1","request":"r","timeout_ms":1.5,"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"request","sender":"s1","request":"r","timeout_ms":99999999999,"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"request","sender":"s1","id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"respond","data":1,"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"respond","rid":"r1","error":5,"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"respond","rid":"r999","data":1,"id":1}""", ErrorCodes.UnknownRid, 1 },
        { """{"op":"producer","name":"p","id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"gather","topic":"t","ttl_ms":"300","id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"gather","ttl_ms":300,"id":1}""", ErrorCodes.InvalidField, 1 },
        { """{"op":"sender","name":"bad name","id":1}""", ErrorCodes.InvalidName, 1 },
        { """{"op":"sender","name":"","id":1}""", ErrorCodes.InvalidName, 1 },
        { $$"""{"op":"sender","name":"{{new string('x', 200)}}","id":1}""", ErrorCodes.InvalidName, 1 },
        { """{"op":"sender","name":"x","events":["a..b"],"id":1}""", ErrorCodes.InvalidName, 1 },
        { """{"op":"sender","name":"x","requests":["#r"],"id":1}""", ErrorCodes.InvalidName, 1 },
        { """{"op":"trigger","sender":"s1","event":"tick.*","id":1}""", ErrorCodes.InvalidName, 1 },
        { """{"op":"trigger","sender":"no body","event":"tick","id":1}""", ErrorCodes.InvalidName, 1 },
        { """{"op":"listen","sender":"s1","event":"a.>.b","id":1}""", ErrorCodes.InvalidName, 1 },
        { """{"op":"listen","sender":"s 1","id":1}""", ErrorCodes.InvalidName, 1 },
        { """{"op":"request","sender":"s1","request":"#r","id":1}""", ErrorCodes.InvalidName, 1 },
        { """{"op":"producer","topics":["t.*"],"id":1}""", ErrorCodes.InvalidName, 1 },
        { """{"op":"producer","topics":[],"id":1}""", ErrorCodes.InvalidArgument, 1 },
        { """{"op":"gather","topic":"#t","id":1}""", ErrorCodes.InvalidName, 1 },
        { """{"op":"listen","event":"tick","id":1}""", ErrorCodes.TargetedNeedsSender, 1 },
        { """{"op":"trigger","sender":"s1","event":"undeclared","id":1}""", ErrorCodes.UndeclaredEvent, 1 },
    };

    [Theory]
    [MemberData(nameof(BadLines))]
    public async Task A_bad_line_gets_its_error_and_the_connection_keeps_its_registrations(string line, string code, int? id)
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var peer = await Registered(host);
        await peer.ErrorAsync(line, code, id);
        await StillWorks(peer, seq: 2);
    }

    [Fact]
    public async Task An_unknown_op_is_quoted_short_in_its_error()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var peer = await Registered(host);
        await peer.SendAsync($$"""{"op":"{{new string('x', 100_000)}}","id":1}""");
        var error = await peer.ExpectErrorAsync(ErrorCodes.UnknownOp, 1);
        Assert.InRange(error.ToJsonString().Length, 1, 1000);
        Assert.Contains(new string('x', 64) + "...", error["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        await StillWorks(peer, seq: 2);
    }

    [Fact]
    public async Task Invalid_utf8_is_invalid_json()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var peer = await Registered(host);
        await peer.SendRawAsync(new byte[] { (byte)'{', (byte)'"', 0xff, 0xfe, (byte)'"', (byte)':', (byte)'1', (byte)'}', (byte)'\n' });
        await peer.ExpectErrorAsync(ErrorCodes.InvalidJson);
        await StillWorks(peer, seq: 2);
    }

    [Fact]
    public async Task A_2_MiB_line_is_refused_before_its_end_arrives_and_skipped_up_to_its_newline()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var peer = await Registered(host);
        var huge = Encoding.UTF8.GetBytes("{\"op\":\"trigger\",\"sender\":\"s1\",\"event\":\"tick\",\"id\":\"huge\",\"data\":\"" + new string('x', 2 << 20) + "\"}");
        for (var offset = 0; offset < huge.Length; offset += 64 * 1024)
        {
            await peer.SendRawAsync(huge.AsMemory(offset, Math.Min(64 * 1024, huge.Length - offset)));
        }

        // No newline sent yet: the broker already knows the line is too long and says so.
        var error = await peer.ExpectErrorAsync(ErrorCodes.LineTooLong);
        Assert.Contains("1048576", error["error"]!["message"]!.GetValue<string>());
        await peer.SendRawAsync("\"more of the same line\"}\n"u8.ToArray());
        await StillWorks(peer, seq: 2);
        Assert.Empty(peer.Pending(l => l["error"] is not null || l["id"]?.ToString() == "huge"));
    }

    [Fact]
    public async Task An_over_long_line_and_a_good_one_in_the_same_write_get_an_error_then_an_answer()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(new BrokerOptions { MaxJsonLineBytes = 100 }, Ct);
        await using var peer = await Registered(host);
        var exactly100 = """{"op":"trigger","sender":"s1","event":"tick","data":"X","id":"at-limit"}""";
        exactly100 = exactly100.Replace("\"X\"", "\"" + new string('x', 100 - exactly100.Length + 1) + "\"", StringComparison.Ordinal);
        Assert.Equal(100, exactly100.Length);
        await peer.OkAsync(exactly100, "at-limit");
        await peer.EventAsync("L1", 2);
        var over = exactly100.Replace("\"at-limit\"", "\"over-limit\"", StringComparison.Ordinal);
        await peer.SendRawAsync(Encoding.UTF8.GetBytes(over + "\n" + """{"op":"ping","id":"after"}""" + "\n"));
        await peer.ExpectErrorAsync(ErrorCodes.LineTooLong);
        Assert.Equal("pong", (await peer.AnswerAsync("after"))["op"]!.GetValue<string>());
        await StillWorks(peer, seq: 3);
    }

    [Fact]
    public async Task A_line_split_across_many_writes_is_read_whole()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var peer = await Registered(host);
        var line = Encoding.UTF8.GetBytes("""{"op":"trigger","sender":"s1","event":"tick","data":{"split":"across writes","n":[1,2,3]},"id":"split"}""" + "\n");
        foreach (var b in line)
        {
            await peer.SendRawAsync(new[] { b });
        }

        await peer.AnswerAsync("split");
        Assert.Equal("""{"split":"across writes","n":[1,2,3]}""", (await peer.EventAsync("L1", 2))["data"]!.ToJsonString());

        // A larger line (past what waits in the transport's pipe) in uneven pieces: copied out and joined exactly.
        var big = new string('y', 300_000);
        line = Encoding.UTF8.GetBytes($$"""{"op":"trigger","sender":"s1","event":"tick","data":"{{big}}","id":"big"}""" + "\n");
        for (var offset = 0; offset < line.Length; offset += 7_777)
        {
            await peer.SendRawAsync(line.AsMemory(offset, Math.Min(7_777, line.Length - offset)));
        }

        await peer.AnswerAsync("big");
        Assert.Equal(big, (await peer.EventAsync("L1", 3))["data"]!.GetValue<string>());
        await StillWorks(peer, seq: 4);
    }

    [Fact]
    public async Task Several_lines_in_one_write_are_each_answered_in_order_and_crlf_is_fine()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var peer = await Registered(host);
        var lines = new StringBuilder();
        for (var i = 0; i < 50; i++)
        {
            lines.Append($$"""{"op":"trigger","sender":"s1","event":"tick","data":{{i}},"id":{{i}}}""").Append(i % 2 == 0 ? "\n" : "\r\n");
        }

        lines.Append("nonsense\n{\"op\":\"ping\",\"id\":\"last\"}\n");
        await peer.SendRawAsync(Encoding.UTF8.GetBytes(lines.ToString()));
        for (var i = 0; i < 50; i++)
        {
            await peer.AnswerAsync(i);
            Assert.Equal(i, (await peer.EventAsync("L1", i + 2))["data"]!.GetValue<int>());
        }

        await peer.ExpectErrorAsync(ErrorCodes.InvalidJson);
        await peer.AnswerAsync("last");
        await StillWorks(peer, seq: 52);
    }

    [Fact]
    public async Task The_last_line_may_end_without_a_newline()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var peer = await JsonLinesPeer.ConnectAsync(host, Ct);
        await peer.SendRawAsync("{\"op\":\"ping\",\"id\":\"eof\"}"u8.ToArray());
        peer.ShutdownSend();
        Assert.Equal("pong", (await peer.AnswerAsync("eof"))["op"]!.GetValue<string>());
        Assert.True(await peer.ClosedByBrokerAsync());
    }

    [Fact]
    public async Task A_flood_of_bad_lines_leaves_other_connections_untouched()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var good = await Registered(host);
        await using var bad = await JsonLinesPeer.ConnectAsync(host, Ct);
        var flood = new StringBuilder();
        for (var i = 0; i < 1000; i++)
        {
            flood.Append(i % 3 == 0 ? "{]\n" : i % 3 == 1 ? "{\"op\":\"nope\"}\n" : "\n");
        }

        await bad.SendRawAsync(Encoding.UTF8.GetBytes(flood.ToString()));
        await bad.SyncAsync();
        Assert.Equal(1000, bad.Pending(l => l["error"] is not null).Count);
        await StillWorks(good, seq: 2);
    }

    /// <summary>A connection with a sender <c>s1</c> (event <c>tick</c>) and a listen <c>L1</c> on it, proven to work once (seq 1).</summary>
    private static async Task<JsonLinesPeer> Registered(BrokerHost host)
    {
        var peer = await JsonLinesPeer.ConnectAsync(host, Ct);
        await peer.OkAsync("""{"op":"sender","name":"s1","events":["tick"],"requests":["r"],"id":"s"}""", "s");
        await peer.OkAsync("""{"op":"listen","sender":"s1","event":"tick","id":"L1"}""", "L1");
        await peer.SendAsync("""{"op":"trigger","sender":"s1","event":"tick","data":"first"}""");
        await peer.EventAsync("L1", 1);
        return peer;
    }

    private static async Task StillWorks(JsonLinesPeer peer, int seq)
    {
        await peer.OkAsync($$"""{"op":"trigger","sender":"s1","event":"tick","data":"still here","id":"check{{seq}}"}""", $"check{seq}");
        Assert.Equal("still here", (await peer.EventAsync("L1", seq))["data"]!.GetValue<string>());
    }
}
