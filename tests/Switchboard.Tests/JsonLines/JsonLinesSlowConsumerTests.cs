using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.JsonLines;

/// <summary>A JSON-lines listener that stops reading is bounded like a binary one (<see cref="BrokerOptions.MaxOutboundBytes"/>):
/// cut, or dropped-and-counted with gaps in its sequence numbers; the publisher and everyone else go on.</summary>
public sealed class JsonLinesSlowConsumerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_listen_that_stops_reading_is_cut_and_the_publisher_goes_on()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(new BrokerOptions { MaxOutboundBytes = 256 * 1024 }, Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        await using var firehose = await client.AddSenderAsync("firehose", ["#data", "#other"], cancellationToken: Ct);
        using var stalled = await StalledListenerAsync(host);
        await using var healthy = await JsonLinesPeer.ConnectAsync(host, Ct);
        await healthy.OkAsync("""{"op":"listen","event":"#other","id":"h"}""", "h");

        var chunk = Payload.Json(new string('z', 16 * 1024));
        var sent = 0;
        while (host.Broker.Bus.Counters.ListenerDrops == 0 && sent < 20_000)
        {
            await firehose.TriggerAsync("#data", chunk, cancellationToken: Ct);
            if (++sent % 64 == 0)
            {
                await client.FlushAsync(Ct); // keep pace with the broker, so the loop stops soon after the first drop
            }
        }

        await Wait.UntilAsync(() => host.Broker.Bus.Counters.ListenerDrops > 0, "the stalled listen overflowing its connection's buffer");

        Assert.True(await ClosedAsync(stalled), "The stalled connection should have been cut.");
        await firehose.TriggerAsync("#other", Payload.Json("still here"), cancellationToken: Ct);
        var other = await healthy.EventAsync("h", 1);
        Assert.Equal("still here", other["data"]!.GetValue<string>());
    }

    [Fact]
    public async Task With_drop_newest_the_connection_stays_and_the_gaps_in_seq_show_the_drops()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(new BrokerOptions { MaxOutboundBytes = 256 * 1024, SlowConsumerPolicy = SlowConsumerPolicy.DropNewest }, Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        await using var firehose = await client.AddSenderAsync("firehose", ["#data"], cancellationToken: Ct);
        using var stalled = await StalledListenerAsync(host);
        var chunk = Payload.Json(new string('z', 16 * 1024));
        var sent = 0;
        while (host.Broker.Bus.Counters.ListenerDrops == 0 && sent < 20_000)
        {
            await firehose.TriggerAsync("#data", chunk, cancellationToken: Ct);
            if (++sent % 64 == 0)
            {
                await client.FlushAsync(Ct); // keep pace with the broker, so the loop stops soon after the first drop
            }
        }

        await Wait.UntilAsync(() => host.Broker.Bus.Counters.ListenerDrops > 0, "the stalled listen overflowing its connection's buffer");


        // Read everything now: a ping's pong marks the end of the backlog; then one more trigger gets through.
        using var stream = new NetworkStream(stalled, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(Wait.Timeout);
        await stalled.SendAsync("{\"op\":\"ping\",\"id\":\"drained\"}\n"u8.ToArray(), SocketFlags.None, Ct);
        var seqs = new List<int>();
        await ReadUntilAsync(line => line["op"]?.GetValue<string>() == "pong");
        await firehose.TriggerAsync("#data", Payload.Json("after"), cancellationToken: Ct);
        sent++;
        await ReadUntilAsync(line => line["data"]?.ToJsonString() == "\"after\"");

        Assert.Equal(sent, seqs[^1]);
        Assert.True(seqs.Count < sent, "Some lines were dropped.");
        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(seqs.Count, seqs.Distinct().Count());

        async Task ReadUntilAsync(Func<JsonObject, bool> last)
        {
            while (true)
            {
                var text = await reader.ReadLineAsync(deadline.Token);
                Assert.NotNull(text);
                var line = JsonNode.Parse(text)!.AsObject();
                if (line["op"]?.GetValue<string>() == "event")
                {
                    seqs.Add(line["seq"]!.GetValue<int>());
                }

                if (last(line))
                {
                    return;
                }
            }
        }
    }

    /// <summary>A raw socket that listens to <c>#data</c>, reads the ok, then stops reading.</summary>
    private static async Task<Socket> StalledListenerAsync(BrokerHost host)
    {
        var uri = new Uri(host.JsonLinesAddress!);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(uri.Host), uri.Port), Ct);
        await socket.SendAsync("{\"op\":\"listen\",\"event\":\"#data\",\"id\":\"slow\"}\n"u8.ToArray(), SocketFlags.None, Ct);
        var ok = new StringBuilder();
        var one = new byte[1];
        while (!ok.ToString().EndsWith('\n'))
        {
            Assert.Equal(1, await socket.ReceiveAsync(one, SocketFlags.None, Ct));
            ok.Append((char)one[0]);
        }

        Assert.Equal("{\"ok\":true,\"id\":\"slow\"}\n", ok.ToString());
        return socket;
    }

    private static async Task<bool> ClosedAsync(Socket socket)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(Wait.Timeout);
        var buffer = new byte[64 * 1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }

            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
