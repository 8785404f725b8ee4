using Switchboard.Server;
using Switchboard.Tests.Support;
using Switchboard.Wire;

namespace Switchboard.Tests.Broker;

/// <summary>The broker never sends a client a frame above the size the client announced in HELLO: long sender lists come
/// in pages, events too large for a client are dropped for it (counted), answers too large become errors.</summary>
public sealed class PeerFrameSizeTests
{
    private const int SmallFrames = Protocol.MinPeerMaxFrameSize;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task GetSendersAsync_lists_twenty_thousand_senders_in_pages_that_fit_the_clients_frames()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var first = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("many-1"), Ct);
        await using var second = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("many-2"), Ct);
        await Task.WhenAll(AddSendersAsync(first, 0, 10_000), AddSendersAsync(second, 10_000, 10_000));
        await using var small = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("small") with { MaxFrameSize = SmallFrames }, Ct);

        foreach (var asker in new[] { first, small })
        {
            var senders = await asker.GetSendersAsync(Ct);
            var names = senders.Select(s => s.Name).Where(n => n.StartsWith("sensor-", StringComparison.Ordinal)).ToHashSet();
            Assert.Equal(20_000, names.Count);
            Assert.Contains("sensor-19999", names);
            Assert.Equal(["#temperature", "#status"], senders.First(s => s.Name == "sensor-00042").Events);
        }

        Assert.True(small.IsConnected);
        Assert.Equal(0, host.Broker.ProtocolErrors);
    }

    [Fact]
    public async Task An_unpaged_raw_client_gets_a_clear_error_when_the_list_does_not_fit_one_frame()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var owner = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("many"), Ct);
        // About 1.26 MB of entries: more than the 1 MiB a client that announced nothing takes.
        await AddSendersAsync(owner, 0, 12_000, ["#temperature.celsius.reading", "#status.of.the.device.right.now", "#battery.level.percent"]);
        await using var raw = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        await raw.HelloAsync(Ct);
        await raw.SendAsync(b => Frames.Correlated(b, false, FrameType.ListSenders, 7), Ct);
        var error = await raw.ReadErrorFrameAsync(Ct);
        Assert.Equal((7u, false, ErrorCodes.MessageTooLarge), (error.Correlation, error.Fatal, error.Code));
        Assert.Contains("paged-lists feature", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Events_and_answers_too_large_for_a_client_are_dropped_or_refused_and_it_keeps_the_rest()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var small = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("small") with { MaxFrameSize = SmallFrames }, Ct);
        await using var big = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("big"), Ct);
        var large = Payload.Utf8(new string('x', SmallFrames + 1));
        await using var listener = await small.ListenAsync("camera", "#frame", cancellationToken: Ct);
        await using var camera = await big.AddSenderAsync("camera", ["#frame"], new Dictionary<string, RequestHandler> { ["snapshot"] = (_, _) => ValueTask.FromResult(large) }, cancellationToken: Ct);
        await using var echo = await small.AddSenderAsync("echo", [], new Dictionary<string, RequestHandler> { ["say"] = (r, _) => ValueTask.FromResult(r.Data) }, cancellationToken: Ct);

        await camera.TriggerAsync("#frame", large, cancellationToken: Ct);
        await camera.TriggerAsync("#frame", Payload.Json("small"), cancellationToken: Ct);
        Assert.Equal("small", (await listener.NextAsync()).As<string>());
        Assert.Equal(1, host.Broker.TooLargeForPeer);

        var reply = await Assert.ThrowsAsync<RequestFailedException>(async () => await small.RequestAsync("camera", "snapshot", timeout: TimeSpan.FromSeconds(10), cancellationToken: Ct));
        Assert.Equal(ErrorCodes.MessageTooLarge, reply.Code);
        var ask = await Assert.ThrowsAsync<RequestFailedException>(async () => await big.RequestAsync("echo", "say", large, TimeSpan.FromSeconds(10), cancellationToken: Ct));
        Assert.Equal(ErrorCodes.MessageTooLarge, ask.Code);
        Assert.Contains("larger than the frames client 'small' accepts", ask.Message, StringComparison.Ordinal);

        Assert.Equal("ok", (await big.RequestAsync("echo", "say", Payload.Json("ok"), TimeSpan.FromSeconds(10), cancellationToken: Ct)).As<string>());
        Assert.True(small.IsConnected);
    }

    [Fact]
    public async Task A_hello_announcing_frames_below_64_KiB_is_refused()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var raw = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        await raw.SendAsync(b => Frames.Hello(b, false, Protocol.Version, "tiny", null, 0, 5000, maxFrameSize: 1024), Ct);
        var error = await raw.ReadErrorFrameAsync(Ct);
        Assert.Equal((true, ErrorCodes.InvalidArgument), (error.Fatal, error.Code));
        Assert.Contains("at least 65536 bytes", error.Message, StringComparison.Ordinal);
    }

    private static async Task AddSendersAsync(BusClient client, int from, int count, string[]? events = null)
    {
        for (var batch = 0; batch < count; batch += 1000)
        {
            await Task.WhenAll(Enumerable.Range(from + batch, Math.Min(1000, count - batch))
                .Select(i => client.AddSenderAsync($"sensor-{i:D5}", events ?? ["#temperature", "#status"], cancellationToken: Ct).AsTask()));
        }
    }
}
