using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Broker;

/// <summary>What only a remote bus can go through: a broker that dies and comes back, a peer that stops reading,
/// a peer that vanishes without closing, a broker that shuts down politely.</summary>
public sealed class BrokerFaultTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;



    [Fact]
    public async Task A_client_reconnects_to_a_restarted_broker_registers_again_and_delivers_what_it_buffered()
    {
        var port = Fixtures.FreePort();
        var first = await BrokerHost.StartAsync(new BrokerOptions { Port = port }, cancellationToken: Ct);
        var address = first.TcpAddress!;
        await using var publisher = await BusClient.ConnectAsync(address, Fixtures.FastReconnect("publisher"), Ct);
        await using var subscriber = await BusClient.ConnectAsync(address, Fixtures.FastReconnect("subscriber"), Ct);
        var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var back = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscriberBack = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        publisher.Disconnected += (_, _) => lost.TrySetResult();
        publisher.Reconnected += (_, _) => back.TrySetResult();
        subscriber.Reconnected += (_, _) => subscriberBack.TrySetResult();
        var sender = await publisher.AddSenderAsync("pub", ["#n"], cancellationToken: Ct);
        await using var queue = await subscriber.ListenAsync(null, "#n", cancellationToken: Ct);
        for (var i = 1; i <= 5; i++)
        {
            await sender.TriggerAsync("#n", Payload.Json(i), cancellationToken: Ct);
        }

        for (var i = 1; i <= 5; i++)
        {
            Assert.Equal(i, (await queue.NextAsync()).As<int>());
        }

        await first.KillAsync();
        await lost.Task.WithinAsync("the publisher noticing the broker died");
        for (var i = 6; i <= 10; i++)
        {
            await sender.TriggerAsync("#n", Payload.Json(i), cancellationToken: Ct); // buffered while away
        }

        IListenerQueue? onBroker = null;
        IListenerQueue? presence = null;
        await using var second = await BrokerHost.StartAsync(new BrokerOptions { Port = port }, beforeListening: async broker =>
        {
            onBroker = await broker.Bus.ListenAsync(null, "#n", cancellationToken: Ct);
            presence = await broker.Bus.ListenAsync("pub", "#connect", cancellationToken: Ct);
        }, cancellationToken: Ct);
        await back.Task.WithinAsync("the publisher reconnecting");
        Assert.Equal("pub", (await presence!.NextAsync()).Sender);
        for (var i = 6; i <= 10; i++)
        {
            Assert.Equal(i, (await onBroker!.NextAsync()).As<int>());
        }

        await subscriberBack.Task.WithinAsync("the subscriber reconnecting");
        await subscriber.FlushAsync(Ct);
        await sender.TriggerAsync("#n", Payload.Json(11), cancellationToken: Ct);
        BusMessage next;
        do
        {
            next = await queue.NextAsync();
        }
        while (next.As<int>() != 11 && next.As<int>() is >= 6 and <= 10);
        Assert.Equal(11, next.As<int>());
        Assert.Contains(await subscriber.GetSendersAsync(Ct), s => s.Name == "pub");
    }

    [Fact]
    public async Task A_broker_that_is_stopping_refuses_handshakes_while_its_listener_still_accepts()
    {
        // A client cut by a stopping broker reconnects at once; were it welcomed, what it sends next would be lost.
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await host.Broker.DisposeAsync();
        var refused = await Assert.ThrowsAsync<SwitchboardException>(async () =>
            await BusClient.ConnectAsync(host.TcpAddress!, new BusClientOptions { ClientName = "late" }, Ct));
        Assert.Contains("shutting down", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_peer_that_stops_reading_is_cut_as_a_slow_consumer_and_everyone_else_gets_everything()
    {
        const int count = 1_000;
        const int batch = 50;
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, MaxOutboundBytes = 1 << 20 }, cancellationToken: Ct);
        await using var notices = await host.Broker.Bus.ListenAsync(Server.Broker.SystemSender, "#slow_consumer", cancellationToken: Ct);
        await using var stalled = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        await stalled.HelloAsync(Ct);
        await stalled.ListenAsync(null, "#flood", Ct);
        await using var publisher = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("publisher"), Ct);
        await using var healthy = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("healthy"), Ct);
        await using var received = await healthy.ListenAsync(null, "#flood", new ListenerOptions { Capacity = count }, Ct);
        var sender = await publisher.AddSenderAsync("flooder", ["#flood"], cancellationToken: Ct);
        await Wait.UntilAsync(() => host.Broker.ConnectionCount == 3, "all three connections are registered");

        // 16 MB in all, far beyond what the stalled peer's socket buffers and its 1 MB allowance can hold. The healthy
        // reader is paced, so it is never the one that falls behind.
        var payload = new byte[16 * 1024];
        for (var i = 0; i < count; i += batch)
        {
            for (var j = 0; j < batch; j++)
            {
                await sender.TriggerAsync("#flood", payload, cancellationToken: Ct);
            }

            for (var j = 0; j < batch; j++)
            {
                await received.NextAsync();
            }
        }

        var notice = await notices.NextAsync();
        Assert.Equal("disconnect", JsonDocument.Parse(notice.Data.Bytes).RootElement.GetProperty("policy").GetString());
        Assert.Equal(1, host.Broker.SlowConsumers);
        Assert.True(await stalled.ClosedByPeerAsync(Wait.Timeout), "the broker closes the stalled connection");
        Assert.Equal(0, received.Dropped);
        Assert.Equal(0, publisher.Counters.OfflineDrops);
        Assert.True(healthy.IsConnected && publisher.IsConnected);
    }

    [Fact]
    public async Task A_peer_that_vanishes_without_closing_is_noticed_by_heartbeat_and_its_last_will_fires()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, HeartbeatInterval = TimeSpan.FromMilliseconds(200), HeartbeatMisses = 2 }, cancellationToken: Ct);
        await using var wills = await host.Broker.Bus.ListenAsync(null, "#status", cancellationToken: Ct);
        await using var gone = await host.Broker.Bus.ListenAsync("sensor9", "#disconnect", cancellationToken: Ct);
        await using var silent = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        await silent.HelloAsync(Ct);
        await silent.AddSenderAsync("sensor9", ["#status"], "#status", Payload.Utf8("offline"), Ct);
        await Wait.UntilAsync(() => host.Broker.Bus.GetSendersAsync(Ct).AsTask().Result.Any(s => s.Name == "sensor9"), "sensor9 is online");

        // The peer neither closes nor answers pings: only the heartbeat can tell it is gone.
        var will = await wills.NextAsync();
        Assert.Equal(("sensor9", "offline"), (will.Sender, will.Data.ToString()));
        var left = await gone.NextAsync();
        Assert.Equal("connection_lost", JsonDocument.Parse(left.Data.Bytes).RootElement.GetProperty("reason").GetString());
        Assert.Equal(1, host.Broker.HeartbeatTimeouts);
    }

    [Fact]
    public async Task A_client_notices_a_broker_that_stops_answering_within_its_heartbeat_interval()
    {
        using var silentBroker = new TcpListener(IPAddress.Loopback, 0);
        silentBroker.Start();
        var port = ((IPEndPoint)silentBroker.LocalEndpoint).Port;
        var accepting = Task.Run(async () =>
        {
            var socket = await silentBroker.AcceptSocketAsync(Ct);
            var welcome = new System.Buffers.ArrayBufferWriter<byte>();
            global::Switchboard.Wire.Frames.Welcome(welcome, false, global::Switchboard.Wire.Protocol.Version, "silent", 0, 60_000, 1 << 20);
            await socket.SendAsync(welcome.WrittenMemory, Ct);
            return socket; // then never another byte, never a close
        }, Ct);
        var options = Fixtures.FastReconnect("watchful") with { HeartbeatInterval = TimeSpan.FromMilliseconds(200), HeartbeatMisses = 2 };
        await using var client = await BusClient.ConnectAsync($"sb://127.0.0.1:{port}", options, Ct);
        var lost = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Disconnected += (_, e) => lost.TrySetResult(e.Reason);
        Assert.Equal("heartbeat timeout", await lost.Task.WithinAsync("the client noticing the silent broker"));
        using var held = await accepting;
    }

    [Fact]
    public async Task A_broker_shutting_down_tells_its_clients_first_and_no_last_will_fires()
    {
        var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, LameDuckGrace = TimeSpan.FromSeconds(5) }, cancellationToken: Ct);
        await using var watcher = await host.Broker.Bus.ListenAsync(null, null, cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("mover"), Ct);
        var moved = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Disconnected += (_, e) => moved.TrySetResult(e.Reason);
        await client.AddSenderAsync("mover", ["#status"], options: new SenderOptions { WillEvent = "#status", WillData = Payload.Utf8("crashed") }, cancellationToken: Ct);
        await host.StopAsync(Ct);
        Assert.Contains("going away", await moved.Task.WithinAsync("the client hearing the lame-duck notice"), StringComparison.Ordinal);
        var seen = new List<BusMessage>();
        while (watcher.TryRead(out var message))
        {
            seen.Add(message);
        }

        Assert.DoesNotContain(seen, m => m.Event == "#status");
        var left = Assert.Single(seen, m => m.Event == "#disconnect" && m.Sender == "mover");
        Assert.Equal("closed", JsonDocument.Parse(left.Data.Bytes).RootElement.GetProperty("reason").GetString());
        await host.DisposeAsync();
    }

    [Fact]
    public async Task Triggers_beyond_the_offline_buffer_are_dropped_and_counted()
    {
        var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("offline") with { OfflineBufferBytes = 2048 }, Ct);
        var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Disconnected += (_, _) => lost.TrySetResult();
        var sender = await client.AddSenderAsync("offline", ["#x"], cancellationToken: Ct);
        await host.KillAsync();
        await lost.Task.WithinAsync("the client noticing the broker died");
        for (var i = 0; i < 100; i++)
        {
            await sender.TriggerAsync("#x", new byte[100], cancellationToken: Ct);
        }

        Assert.InRange(client.Counters.OfflineDrops, 70, 100);
        await host.DisposeAsync();
    }

    [Fact]
    public async Task A_peer_that_only_receives_and_answers_pings_is_never_taken_for_dead()
    {
        // Success path with zero timeouts allowed: 4 silent intervals before a cut, so a stalled test machine is not a dead peer.
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, HeartbeatInterval = TimeSpan.FromMilliseconds(250), HeartbeatMisses = 4 }, cancellationToken: Ct);
        await using var subscriber = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        await subscriber.HelloAsync(Ct);
        await subscriber.ListenAsync(null, "#steady", Ct);
        await using var publisher = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("steady-publisher"), Ct);
        var sender = await publisher.AddSenderAsync("steady", ["#steady"], cancellationToken: Ct);
        using var stop = new CancellationTokenSource();
        var pongs = 0;
        var events = 0;
        var answering = Task.Run(async () =>
        {
            var parser = new global::Switchboard.Wire.FrameParser();
            var pending = new byte[0];
            var chunk = new byte[64 * 1024];
            while (!stop.IsCancellationRequested)
            {
                var read = await subscriber.Socket.ReceiveAsync(chunk, System.Net.Sockets.SocketFlags.None, stop.Token);
                if (read == 0)
                {
                    return;
                }

                pending = [.. pending, .. chunk.AsSpan(0, read)];
                var buffer = new System.Buffers.ReadOnlySequence<byte>(pending);
                var pings = new List<ulong>();
                while (parser.TryRead(ref buffer, out var type, out ReadOnlySpan<byte> body))
                {
                    if (type == global::Switchboard.Wire.FrameType.Ping)
                    {
                        pings.Add(new global::Switchboard.Wire.SpanReader(body, type).U64("nonce"));
                    }
                    else if (type == global::Switchboard.Wire.FrameType.Event)
                    {
                        Interlocked.Increment(ref events);
                    }
                }

                pending = System.Buffers.BuffersExtensions.ToArray(buffer);
                foreach (var nonce in pings)
                {
                    await subscriber.SendAsync(b => global::Switchboard.Wire.Frames.PingPong(b, false, global::Switchboard.Wire.FrameType.Pong, nonce), stop.Token);
                    Interlocked.Increment(ref pongs);
                }
            }
        }, Ct);

        // Steady traffic to the subscriber for about ten heartbeat intervals: it sends nothing but its PONGs.
        for (var i = 0; i < 125; i++)
        {
            await sender.TriggerAsync("#steady", Payload.Json(i), cancellationToken: Ct);
            await Task.Delay(20, Ct);
        }

        await Wait.UntilAsync(() => Volatile.Read(ref events) == 125, "the subscriber received every event");
        Assert.True(Volatile.Read(ref pongs) > 0, "the broker asked the busy subscriber for a sign of life");
        Assert.Equal(0, host.Broker.HeartbeatTimeouts);
        Assert.Equal(2, host.Broker.ConnectionCount);
        await stop.CancelAsync();
        await answering.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }
}
