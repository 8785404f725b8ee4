using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Switchboard.Server;
using Switchboard.Tests.Support;
using Switchboard.Wire;

namespace Switchboard.Tests.Broker;

/// <summary>Answers count against a peer's bound too: one that asks and asks and never reads is cut, on every codec,
/// and the others keep being served.</summary>
public sealed class OwedBytesTests
{
    private const int Bound = 64 * 1024;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(SlowConsumerPolicy.Disconnect)]
    [InlineData(SlowConsumerPolicy.DropNewest)]
    public async Task A_binary_peer_that_asks_without_reading_is_cut_whatever_the_policy_and_a_canary_loses_nothing(SlowConsumerPolicy policy)
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, MaxOutboundBytes = Bound, SlowConsumerPolicy = policy }, cancellationToken: Ct);
        await using var notices = await host.Broker.Bus.ListenAsync(Server.Broker.SystemSender, "#slow_consumer", cancellationToken: Ct);
        await using var canary = await Canary.StartAsync(host, Ct);
        await using var greedy = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        await greedy.HelloAsync(Ct);

        // Each LIST_SENDERS is answered with the whole list; the peer never reads a byte of it.
        var asked = 0;
        while (!await ClosedOrCutAsync(host) && asked < 200_000)
        {
            try
            {
                await greedy.SendAsync(b =>
                {
                    for (var i = 0; i < 100; i++)
                    {
                        Frames.Correlated(b, false, FrameType.ListSenders, (uint)(++asked));
                    }
                }, Ct);
            }
            catch (SocketException)
            {
                break; // cut meanwhile
            }
        }

        var notice = JsonDocument.Parse((await notices.NextAsync()).Data.Bytes).RootElement;
        Assert.Equal("disconnect", notice.GetProperty("policy").GetString());
        Assert.InRange(notice.GetProperty("buffered").GetInt64(), 0, 3 * Bound);
        Assert.True(await greedy.ClosedByPeerAsync(Wait.Timeout), "the broker closes the peer that does not read its answers");
        await canary.AssertLosslessAsync();
    }

    [Fact]
    public async Task A_retained_replay_counts_against_the_new_listeners_bound_and_a_canary_loses_nothing()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, MaxOutboundBytes = Bound }, cancellationToken: Ct);
        await using var canary = await Canary.StartAsync(host, Ct);
        await using var camera = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("camera"), Ct);
        var events = Enumerable.Range(0, 40).Select(i => $"#frame.{i}").ToArray();
        await using var frames = await camera.AddSenderAsync("camera", events, cancellationToken: Ct);
        foreach (var e in events)
        {
            await frames.TriggerAsync(e, new byte[256 * 1024], retain: true, cancellationToken: Ct); // 10 MiB retained in all
        }

        await camera.FlushAsync(Ct);
        await using var greedy = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        await greedy.HelloAsync(Ct);
        await greedy.SendAsync(b => Frames.Listen(b, false, 1, 1, null, null, null, retained: true), Ct); // and never reads

        Assert.True(await greedy.ClosedByPeerAsync(Wait.Timeout), "the replay is bounded like any delivery: the listener is cut");
        Assert.Equal(1, host.Broker.SlowConsumers);
        await canary.AssertLosslessAsync();
    }

    [Fact]
    public async Task A_json_lines_peer_that_asks_without_reading_is_cut_and_a_canary_loses_nothing()
    {
        await using var host = await Switchboard.Tests.JsonLines.JsonLinesPeer.StartBrokerAsync(new BrokerOptions { MaxOutboundBytes = Bound }, Ct);
        await using var notices = await host.Broker.Bus.ListenAsync(Server.Broker.SystemSender, "#slow_consumer", cancellationToken: Ct);
        await using var canary = await Canary.StartAsync(host, Ct);
        var uri = new Uri(host.JsonLinesAddress!);
        using var greedy = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await greedy.ConnectAsync(uri.Host, uri.Port, Ct);
        var burst = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"op\":\"senders\",\"id\":1}\n", 100)));
        for (var i = 0; i < 2_000 && !await ClosedOrCutAsync(host); i++)
        {
            try
            {
                await greedy.SendAsync(burst, Ct);
            }
            catch (SocketException)
            {
                break; // cut meanwhile
            }
        }

        var notice = JsonDocument.Parse((await notices.NextAsync()).Data.Bytes).RootElement;
        Assert.StartsWith("j", notice.GetProperty("connection").GetString(), StringComparison.Ordinal);
        Assert.Equal("disconnect", notice.GetProperty("policy").GetString());
        await Wait.UntilAsync(() => host.Broker.ConnectionCount == 2, "the greedy peer is gone, the canary's two clients stay");
        await canary.AssertLosslessAsync();
    }

    [Fact]
    public async Task A_peer_that_trickles_a_frame_a_byte_at_a_time_is_cut_and_told_why()
    {
        var options = new BrokerOptions { Port = 0, FrameTimeout = TimeSpan.FromMilliseconds(600), HeartbeatInterval = TimeSpan.FromMilliseconds(400), HeartbeatMisses = 10 };
        await using var host = await BrokerHost.StartAsync(options, cancellationToken: Ct);
        await using var canary = await Canary.StartAsync(host, Ct);
        await using var trickler = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        await trickler.HelloAsync(Ct);
        var frame = new System.Buffers.ArrayBufferWriter<byte>();
        Frames.Correlated(frame, false, FrameType.Flush, 1);

        // One byte of the frame, then nothing more: a byte a second would keep the heartbeat happy for ever.
        await trickler.Socket.SendAsync(frame.WrittenMemory[..1], SocketFlags.None, Ct);
        var error = await trickler.ReadErrorAsync(Ct);
        Assert.Equal(ErrorCodes.FrameTimeout, error.Code);
        Assert.True(await trickler.ClosedByPeerAsync(Wait.Timeout));
        Assert.Equal(1, host.Broker.FrameTimeouts);
        await canary.AssertLosslessAsync();
    }

    private static async Task<bool> ClosedOrCutAsync(BrokerHost host)
    {
        await Task.Yield();
        return host.Broker.SlowConsumers > 0;
    }

    /// <summary>Two BusClients: one triggers a numbered event, the other receives every one of them in order.</summary>
    private sealed class Canary : IAsyncDisposable
    {
        private readonly BusClient _publisher;
        private readonly BusClient _subscriber;
        private readonly ISender _sender;
        private readonly IListenerQueue _received;

        private Canary(BusClient publisher, BusClient subscriber, ISender sender, IListenerQueue received)
        {
            _publisher = publisher;
            _subscriber = subscriber;
            _sender = sender;
            _received = received;
        }

        public static async Task<Canary> StartAsync(BrokerHost host, CancellationToken cancellationToken)
        {
            var publisher = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("canary-pub"), cancellationToken);
            var subscriber = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("canary-sub"), cancellationToken);
            var sender = await publisher.AddSenderAsync("canary", ["beat"], cancellationToken: cancellationToken);
            var received = await subscriber.ListenAsync("canary", "beat", new ListenerOptions { Capacity = 10_000 }, cancellationToken);
            return new Canary(publisher, subscriber, sender, received);
        }

        /// <summary>Sends 50 more beats and checks every one arrives, in order, on connections never cut.</summary>
        public async Task AssertLosslessAsync()
        {
            for (var i = 1; i <= 50; i++)
            {
                await _sender.TriggerAsync("beat", Payload.Json(i));
            }

            for (var i = 1; i <= 50; i++)
            {
                Assert.Equal(i, (await _received.NextAsync()).As<int>());
            }

            Assert.True(_publisher.IsConnected && _subscriber.IsConnected);
            Assert.Equal(0, _received.Dropped);
        }

        public async ValueTask DisposeAsync()
        {
            await _received.DisposeAsync();
            await _subscriber.DisposeAsync();
            await _publisher.DisposeAsync();
        }
    }
}
