using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Client;

/// <summary>A handler or callback that blocks longer than the heartbeat does not get its application's connection cut:
/// application code never runs on the client's socket read loop, so pings are answered meanwhile.</summary>
public sealed class BlockingHandlerHeartbeatTests
{
    // A cut comes after Misses silent intervals; handlers block for longer than that, so only pings answered meanwhile
    // keep the connection. Four intervals leave a loaded machine room to stall without a false cut.
    private static readonly TimeSpan Heartbeat = TimeSpan.FromMilliseconds(250);
    private const int Misses = 4;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Heartbeats_keep_flowing_while_a_request_handler_and_a_callback_block_longer_than_the_cut_window()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, HeartbeatInterval = Heartbeat, HeartbeatMisses = Misses }, cancellationToken: Ct);
        var options = new BusClientOptions { ClientName = "blocking", HeartbeatInterval = Heartbeat, HeartbeatMisses = Misses };
        await using var application = await BusClient.ConnectAsync(host.TcpAddress!, options, Ct);
        await using var asker = await BusClient.ConnectAsync(host.TcpAddress!, options with { ClientName = "asker" }, Ct);
        var disconnects = 0;
        application.Disconnected += (_, _) => Interlocked.Increment(ref disconnects);
        var blockFor = Heartbeat * (Misses + 2);
        await using var worker = await application.AddSenderAsync("sleepy", ["#done"], new()
        {
            ["work"] = (_, _) =>
            {
                Thread.Sleep(blockFor);
                return ValueTask.FromResult(Payload.Json("rested"));
            },
        }, cancellationToken: Ct);
        var callbacks = 0;
        await using var slowListener = await application.ListenAsync("bell", "#ring", _ =>
        {
            Thread.Sleep(blockFor);
            Interlocked.Increment(ref callbacks);
        }, cancellationToken: Ct);
        await using var bell = await asker.AddSenderAsync("bell", ["#ring"], cancellationToken: Ct);

        await bell.TriggerAsync("#ring", cancellationToken: Ct);
        var answer = await asker.RequestAsync("sleepy", "work", timeout: TimeSpan.FromSeconds(5), cancellationToken: Ct);
        await Wait.UntilAsync(() => Volatile.Read(ref callbacks) == 1, "the slow callback finished");

        Assert.Equal("rested", answer.As<string>());
        Assert.Equal(0, Volatile.Read(ref disconnects));
        Assert.Equal(0, host.Broker.HeartbeatTimeouts);
        Assert.True(application.IsConnected);
    }
}
