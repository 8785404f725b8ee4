using System.Collections.Concurrent;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Client;

/// <summary>A <see cref="BusClient"/>'s connection events mean what they say (seed 001's client callbacks, NATS's
/// retry on initial connect).</summary>
public sealed class ConnectionEventTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;



    [Fact]
    public async Task Reconnected_is_raised_only_once_the_broker_has_confirmed_every_registration()
    {
        const int Senders = 300;
        var port = Fixtures.FreePort();
        var first = await BrokerHost.StartAsync(new BrokerOptions { Port = port }, cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(first.TcpAddress!, Fixtures.FastReconnect("many-senders"), Ct);
        for (var i = 0; i < Senders; i++)
        {
            await client.AddSenderAsync($"station-{i:000}", ["#reading"], cancellationToken: Ct);
        }

        var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Disconnected += (_, _) => lost.TrySetResult();
        await first.KillAsync();
        await lost.Task.WithinAsync("the client noticing the broker died");

        BrokerHost? second = null;
        var seenAtReconnect = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Reconnected += (_, _) =>
        {
            // Asked at the moment the event is raised, of the broker itself: every sender must be there already.
            var online = second!.Broker.Bus.GetSendersAsync(Ct).AsTask().GetAwaiter().GetResult();
            seenAtReconnect.TrySetResult(online.Count(s => s.Name.StartsWith("station-", StringComparison.Ordinal)));
        };
        second = await BrokerHost.StartAsync(new BrokerOptions { Port = port }, cancellationToken: Ct);
        await using (second)
        {
            Assert.Equal(Senders, await seenAtReconnect.Task.WithinAsync("the Reconnected event"));
        }
    }

    [Fact]
    public async Task Connected_is_observed_by_a_handler_attached_before_connecting_and_buffered_registrations_are_confirmed_by_then()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var client = new BusClient(host.TcpAddress!, Fixtures.FastReconnect("observed"));
        var connected = new TaskCompletionSource<(string Address, bool SenderOnline)>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Connected += (_, e) =>
        {
            var online = host.Broker.Bus.GetSendersAsync(Ct).AsTask().GetAwaiter().GetResult();
            connected.TrySetResult((e.Address, online.Any(s => s.Name == "early-bird")));
        };
        Assert.False(client.IsConnected);
        await using var early = await client.AddSenderAsync("early-bird", ["#chirp"], cancellationToken: Ct);
        await client.ConnectAsync(Ct);

        var (address, senderOnline) = await connected.Task.WithinAsync("the Connected event");
        Assert.Equal(host.TcpAddress, address);
        Assert.True(senderOnline, "a sender registered before connecting is on the broker when Connected is raised");
        Assert.True(client.IsConnected);
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.ConnectAsync(Ct));
    }

    [Fact]
    public async Task RetryInitialConnect_keeps_trying_until_the_broker_is_up_and_then_sends_what_was_buffered_in_order()
    {
        var port = Fixtures.FreePort();
        var address = $"sb://127.0.0.1:{port}";
        var options = Fixtures.FastReconnect("patient") with { RetryInitialConnect = true };
        await using var client = await BusClient.ConnectAsync(address, options, Ct); // nobody listens on the port yet
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Connected += (_, _) => connected.TrySetResult();
        Assert.False(client.IsConnected);

        var sender = await client.AddSenderAsync("patient", ["#early"], cancellationToken: Ct);
        await using var replies = await client.ListenAsync("host-side", "#welcome", cancellationToken: Ct);
        for (var i = 1; i <= 3; i++)
        {
            await sender.TriggerAsync("#early", Payload.Json(i), cancellationToken: Ct);
        }

        IListenerQueue? onBroker = null;
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = port }, beforeListening: async broker =>
            onBroker = await broker.Bus.ListenAsync("patient", "#early", cancellationToken: Ct), cancellationToken: Ct);
        await connected.Task.WithinAsync("the first connection, made in the background");
        for (var i = 1; i <= 3; i++)
        {
            Assert.Equal(i, (await onBroker!.NextAsync()).As<int>());
        }

        await using var hostSide = await host.Broker.Bus.AddSenderAsync("host-side", ["#welcome"], cancellationToken: Ct);
        await hostSide.TriggerAsync("#welcome", Payload.Json("hi"), cancellationToken: Ct);
        Assert.Equal("hi", (await replies.NextAsync()).As<string>());
    }

    [Fact]
    public async Task Without_RetryInitialConnect_an_unreachable_broker_fails_the_connect_at_once()
    {
        var address = $"sb://127.0.0.1:{Fixtures.FreePort()}";
        var error = await Assert.ThrowsAsync<SwitchboardException>(() => BusClient.ConnectAsync(address, Fixtures.FastReconnect("impatient"), Ct));
        Assert.Equal(ErrorCodes.ConnectFailed, error.Code);
    }

    [Fact]
    public async Task A_crashed_broker_and_a_cleanly_stopped_one_are_told_apart_in_the_disconnect()
    {
        var port = Fixtures.FreePort();
        var first = await BrokerHost.StartAsync(new BrokerOptions { Port = port }, cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(first.TcpAddress!, Fixtures.FastReconnect("watcher"), Ct);
        var losses = new ConcurrentQueue<ConnectionEventArgs>();
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Disconnected += (_, e) => losses.Enqueue(e);
        client.Reconnected += (_, _) => reconnected.TrySetResult();

        await first.KillAsync();
        // A killed broker may still accept one reconnect attempt while it dies: every loss until the clean stop is a crash.
        await Wait.UntilAsync(() => !losses.IsEmpty, "the client noticing the crash");
        var second = await BrokerHost.StartAsync(new BrokerOptions { Port = port, LameDuckGrace = TimeSpan.FromSeconds(1) }, cancellationToken: Ct);
        await reconnected.Task.WithinAsync("the reconnect");
        var crashes = losses.ToArray();
        await second.DisposeAsync();
        await Wait.UntilAsync(() => losses.Count > crashes.Length, "the client noticing the clean shutdown");

        Assert.All(crashes, e => Assert.Equal(ConnectionLoss.Lost, e.Loss));
        var clean = losses.ToArray()[crashes.Length];
        Assert.Equal(ConnectionLoss.BrokerShutdown, clean.Loss);
        Assert.Contains("going away", clean.Reason, StringComparison.Ordinal);
    }
}
