using System.Buffers;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Switchboard.Server;
using Switchboard.Tests.Http;
using Switchboard.Tests.Support;
using Switchboard.Wire;

namespace Switchboard.Tests.Fuzz;

/// <summary>
/// A bounded fuzzer for what the broker reads: binary frames, JSON lines and HTTP bodies, random and mutated from valid
/// ones, sent in random splits. Whatever comes in, only documented error codes come out (never internal_error), the
/// broker logs no error, and it goes on serving. Seeds are fixed, so a failure replays.
/// </summary>
public sealed class FuzzTests
{
    private const int Rounds = 150;
    private static readonly HashSet<string> Documented = [.. typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string)).Select(f => (string)f.GetRawConstantValue()!)];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Mutated_binary_frames_get_only_documented_errors_and_the_broker_keeps_serving()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        var random = new Random(20261203);
        var valid = ValidFrames();
        var refused = new HashSet<string>();
        for (var round = 0; round < Rounds; round++)
        {
            var bytes = new ArrayBufferWriter<byte>();
            bytes.Write(Encode(w => Frames.Hello(w, false, Protocol.Version, "fuzz", null, 0, 60_000)));
            for (var i = 0; i < 6; i++)
            {
                bytes.Write(Mutate(random, valid[random.Next(valid.Length)]));
            }

            bytes.Write(Encode(w => Frames.Correlated(w, false, FrameType.Flush, 0xF1F1)));
            var codes = await ExchangeBinaryAsync(gateway.Host.TcpAddress!, bytes.WrittenMemory, random);
            Assert.All(codes, code => AssertDocumented(code, round));
            refused.UnionWith(codes);
        }

        Assert.True(refused.Count >= 3, $"the mutations reached few refusals: {string.Join(", ", refused)}");

        await AssertStillServingAsync(gateway);
    }

    [Fact]
    public async Task Mutated_json_lines_get_only_documented_errors_and_the_broker_keeps_serving()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(new BrokerOptions { JsonLinesPort = 0 }, cancellationToken: Ct);
        var random = new Random(31415);
        var refused = new HashSet<string>();
        for (var round = 0; round < Rounds; round++)
        {
            var text = new StringBuilder();
            for (var i = 0; i < 6; i++)
            {
                text.Append(Encoding.UTF8.GetString(Mutate(random, Encoding.UTF8.GetBytes(ValidLines[random.Next(ValidLines.Length)])))).Append('\n');
            }

            text.Append("{\"op\":\"ping\",\"id\":\"end\"}\n");
            var replies = await ExchangeLinesAsync(gateway.Host.JsonLinesAddress!, Encoding.UTF8.GetBytes(text.ToString()), random);
            foreach (var line in replies)
            {
                using var reply = JsonDocument.Parse(line);
                if (reply.RootElement.TryGetProperty("error", out var error))
                {
                    AssertDocumented(error.GetProperty("code").GetString()!, round);
                    refused.Add(error.GetProperty("code").GetString()!);
                }
            }
        }

        Assert.True(refused.Count >= 3, $"the mutations reached few refusals: {string.Join(", ", refused)}");

        await AssertStillServingAsync(gateway);
    }

    [Fact]
    public async Task Mutated_http_bodies_get_only_documented_client_errors_and_the_broker_keeps_serving()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"h1","events":["tick","#t"]}""", Ct);
        var random = new Random(27182);
        string[] paths = ["/publish", "/senders", "/request", "/gather"];
        var refused = new HashSet<string>();
        for (var round = 0; round < Rounds; round++)
        {
            var body = Encoding.UTF8.GetString(Mutate(random, Encoding.UTF8.GetBytes(ValidBodies[random.Next(ValidBodies.Length)])));
            var (status, answer) = await gateway.PostAsync(paths[random.Next(paths.Length)], body, Ct);
            Assert.True(status < 500, $"round {round}: {status} for {body}");
            if (status >= 400)
            {
                AssertDocumented(answer!["error"]!["code"]!.GetValue<string>(), round);
                refused.Add(answer["error"]!["code"]!.GetValue<string>());
            }
        }

        Assert.True(refused.Count >= 3, $"the mutations reached few refusals: {string.Join(", ", refused)}");

        await AssertStillServingAsync(gateway);
    }

    private static readonly string[] ValidLines =
    [
        """{"op":"hello","client":"fuzz","id":0}""",
        """{"op":"sender","name":"f1","events":["tick","#t.>"],"requests":["get"],"id":1}""",
        """{"op":"trigger","sender":"f1","event":"tick","data":{"n":1},"id":2}""",
        """{"op":"listen","sender":null,"event":"#t.*","id":"L"}""",
        """{"op":"request","sender":"f1","request":"get","data":[1,2],"timeout_ms":50,"id":3}""",
        """{"op":"producer","name":"p","topics":["top"],"id":4}""",
        """{"op":"gather","topic":"top","ttl_ms":20,"id":5}""",
        """{"op":"senders","id":6}""",
        """{"op":"unlisten","listen":"L","id":7}""",
    ];

    private static readonly string[] ValidBodies =
    [
        """{"sender":"h1","event":"tick","data":{"a":[1,2,3]}}""",
        """{"sender":"h1","events":["#t"],"data":"x","retain":true}""",
        """{"name":"h2","events":["a","#b.*"],"will":{"event":"a","data":1}}""",
        """{"sender":"switchboard","request":"ping","timeout_ms":100}""",
        """{"topic":"t","ttl_ms":20,"data":null}""",
    ];

    private static byte[][] ValidFrames() =>
    [
        Encode(w => Frames.AddSender(w, false, 1, "f1", ["tick", "#t.>"], ["get"], false, null, default)),
        Encode(w => Frames.Trigger(w, false, "f1", "tick", 0, MessageHeaders.Of(("k", "v")), Payload.Json(new { n = 1 }))),
        Encode(w => Frames.Trigger(w, false, "f1", ["#t.a", "#t.b"], 0, null, Payload.Utf8("x"))),
        Encode(w => Frames.Listen(w, false, 2, 7, null, "#t.*", null, true)),
        Encode(w => Frames.Listen(w, false, 3, 8, "f1", "tick", "g", false)),
        Encode(w => Frames.AddProducer(w, false, 4, "p", null, ["top"])),
        Encode(w => Frames.ListenResults(w, false, 5, 9, "top")),
        Encode(w => Frames.Correlated(w, false, FrameType.ListSenders, 6)),
        Encode(w => Frames.PingPong(w, false, FrameType.Ping, 42)),
    ];

    /// <summary>Flips, drops, duplicates or inserts bytes, or cuts the input short, a few times.</summary>
    private static byte[] Mutate(Random random, byte[] input)
    {
        var bytes = new List<byte>(input);
        var edits = random.Next(0, 4);
        for (var i = 0; i < edits && bytes.Count > 0; i++)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes.RemoveAt(at); break;
                case 2: bytes.Insert(at, (byte)random.Next(256)); break;
                case 3: bytes[at] = (byte)random.Next(256); break;
                default: bytes.RemoveRange(at, bytes.Count - at); break;
            }
        }

        return [.. bytes];
    }

    private static byte[] Encode(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Sends in random splits, then reads until the FLUSH is answered or the broker closes; the ERROR codes seen.</summary>
    private static async Task<List<string>> ExchangeBinaryAsync(string address, ReadOnlyMemory<byte> bytes, Random random)
    {
        var uri = new Uri(address);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(uri.Host, uri.Port, Ct);
        await SendInSplitsAsync(socket, bytes, random);
        socket.Shutdown(SocketShutdown.Send); // a frame cut short must not wait for FrameTimeout
        var parser = new FrameParser(Protocol.DefaultMaxFrameSize);
        var received = new ArrayBufferWriter<byte>();
        var codes = new List<string>();
        await foreach (var chunk in ReceiveAsync(socket))
        {
            received.Write(chunk.Span);
            var pending = new ReadOnlySequence<byte>(received.WrittenMemory);
            while (parser.TryReadFrame(ref pending, out var type, out var body))
            {
                if (type == FrameType.Error)
                {
                    codes.Add(Frames.ReadError(body.Span).Code);
                }
                else if (type == FrameType.Ok && Frames.ReadOk(body.Span).Correlation == 0xF1F1)
                {
                    return codes;
                }
            }

            var rest = pending.ToArray();
            received.ResetWrittenCount();
            received.Write(rest);
        }

        return codes;
    }

    private static async Task<List<string>> ExchangeLinesAsync(string address, byte[] bytes, Random random)
    {
        var uri = new Uri(address);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(uri.Host, uri.Port, Ct);
        await SendInSplitsAsync(socket, bytes, random);
        socket.Shutdown(SocketShutdown.Send);
        var text = new StringBuilder();
        var lines = new List<string>();
        await foreach (var chunk in ReceiveAsync(socket))
        {
            text.Append(Encoding.UTF8.GetString(chunk.Span));
            var all = text.ToString();
            var end = all.LastIndexOf('\n');
            if (end < 0)
            {
                continue;
            }

            lines.AddRange(all[..end].Split('\n', StringSplitOptions.RemoveEmptyEntries));
            text.Clear().Append(all[(end + 1)..]);
            if (lines.Exists(l => l.Contains("\"id\":\"end\"", StringComparison.Ordinal)))
            {
                break;
            }
        }

        return lines;
    }

    private static async Task SendInSplitsAsync(Socket socket, ReadOnlyMemory<byte> bytes, Random random)
    {
        while (!bytes.IsEmpty)
        {
            var take = Math.Min(bytes.Length, random.Next(1, 64));
            try
            {
                await socket.SendAsync(bytes[..take], SocketFlags.None, Ct);
            }
            catch (SocketException)
            {
                return; // the broker closed the connection for what it read so far
            }

            bytes = bytes[take..];
        }
    }

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> ReceiveAsync(Socket socket)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        var buffer = new byte[64 * 1024];
        while (true)
        {
            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            }
            catch (SocketException)
            {
                yield break; // reset by the broker after a fatal error
            }

            if (read == 0)
            {
                yield break;
            }

            yield return buffer.AsMemory(0, read);
        }
    }

    private static void AssertDocumented(string code, int round)
    {
        Assert.True(Documented.Contains(code), $"round {round}: undocumented error code '{code}'");
        Assert.NotEqual(ErrorCodes.InternalError, code);
    }

    private static async Task AssertStillServingAsync(HttpGatewayHarness gateway)
    {
        await using var client = await gateway.ConnectClientAsync(Ct);
        await using var listener = await client.ListenAsync("after", "tick", cancellationToken: Ct);
        await using var sender = await client.AddSenderAsync("after", ["tick"], cancellationToken: Ct);
        await sender.TriggerAsync("tick", Payload.Json(1), cancellationToken: Ct);
        Assert.Equal(1, (await listener.NextAsync()).As<int>());
        gateway.AssertNoErrorsLogged();
    }
}
