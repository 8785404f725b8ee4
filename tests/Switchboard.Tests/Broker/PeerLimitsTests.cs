using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Broker;

/// <summary>What one connection may hold and how fast it may ask, on both codecs: a refusal names its setting, and the
/// connection keeps what it has.</summary>
public sealed class PeerLimitsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_binary_client_past_its_sender_listen_and_producer_caps_is_refused_and_keeps_the_rest()
    {
        var options = new BrokerOptions { Port = 0, MaxSendersPerConnection = 2, MaxSubscriptionsPerConnection = 2, MaxProducersPerConnection = 1 };
        await using var host = await BrokerHost.StartAsync(options, cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("greedy"), Ct);
        var first = await client.AddSenderAsync("s1", ["e"], cancellationToken: Ct);
        await client.AddSenderAsync("s2", ["e"], cancellationToken: Ct);
        var sender = await Assert.ThrowsAsync<SwitchboardException>(async () => await client.AddSenderAsync("s3", ["e"], cancellationToken: Ct));
        Assert.Equal(ErrorCodes.TooMany, sender.Code);
        Assert.Contains("MaxSendersPerConnection", sender.Message, StringComparison.Ordinal);

        await using var listen = await client.ListenAsync("s1", "e", cancellationToken: Ct);
        await using var second = await client.ListenAsync("s2", "e", cancellationToken: Ct);
        var refusedListen = await Assert.ThrowsAsync<SwitchboardException>(async () => await client.ListenAsync("s1", "*", cancellationToken: Ct));
        Assert.Contains("MaxSubscriptionsPerConnection", refusedListen.Message, StringComparison.Ordinal);

        await using var producer = await client.AddProducerAsync("t", (_, _) => ValueTask.FromResult(Payload.Empty), cancellationToken: Ct);
        var refusedProducer = await Assert.ThrowsAsync<SwitchboardException>(async () => await client.AddProducerAsync("t", (_, _) => ValueTask.FromResult(Payload.Empty), cancellationToken: Ct));
        Assert.Contains("MaxProducersPerConnection", refusedProducer.Message, StringComparison.Ordinal);

        await first.TriggerAsync("e", Payload.Json(1), cancellationToken: Ct);
        Assert.Equal(1, (await listen.NextAsync()).As<int>());
        Assert.Equal(2, (await client.GetSendersAsync(Ct)).Count(s => s.Name is "s1" or "s2"));
    }

    [Fact]
    public async Task A_json_lines_script_past_its_sender_cap_gets_an_error_line_and_keeps_going()
    {
        var options = new BrokerOptions { MaxSendersPerConnection = 1 };
        await using var host = await Switchboard.Tests.JsonLines.JsonLinesPeer.StartBrokerAsync(options, Ct);
        await using var script = await Switchboard.Tests.JsonLines.JsonLinesPeer.ConnectAsync(host, Ct);
        await script.OkAsync("""{"op":"sender","name":"s1","events":["e"],"id":1}""", 1);
        var refused = await script.ErrorAsync("""{"op":"sender","name":"s2","events":["e"],"id":2}""", ErrorCodes.TooMany, 2);
        Assert.Contains("MaxSendersPerConnection", refused["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        await script.OkAsync("""{"op":"trigger","sender":"s1","event":"e","id":3}""", 3);
    }

    [Fact]
    public async Task A_client_asking_faster_than_its_request_rate_is_refused_the_excess_then_served_again()
    {
        var options = new BrokerOptions { Port = 0, MaxRequestsPerSecond = 20 };
        await using var host = await BrokerHost.StartAsync(options, cancellationToken: Ct);
        await using var server = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("server"), Ct);
        await server.AddSenderAsync("s", [], new Dictionary<string, RequestHandler> { ["r"] = (_, _) => ValueTask.FromResult(Payload.Json(1)) }, cancellationToken: Ct);
        await using var asker = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("asker"), Ct);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 200).Select(async _ =>
        {
            try
            {
                await asker.RequestAsync("s", "r", cancellationToken: Ct);
                return "ok";
            }
            catch (SwitchboardException ex)
            {
                return ex.Code;
            }
        }));
        Assert.Contains(ErrorCodes.TooMany, outcomes);
        Assert.Contains("ok", outcomes);
        Assert.All(outcomes, o => Assert.True(o is "ok" or ErrorCodes.TooMany, o));

        // The bucket refills (2 tokens every 100 ms): a request asked at a sane pace is answered.
        var deadline = DateTime.UtcNow + Wait.Timeout;
        while (true)
        {
            try
            {
                Assert.Equal(1, (await asker.RequestAsync("s", "r", cancellationToken: Ct)).As<int>());
                break;
            }
            catch (SwitchboardException ex) when (ex.Code == ErrorCodes.TooMany && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, Ct); // pacing the asker is the point here, not waiting on a condition
            }
        }
    }

    [Fact]
    public async Task Connections_past_the_per_address_and_total_caps_are_told_why_and_a_freed_slot_is_reusable()
    {
        var options = new BrokerOptions { Port = 0, JsonLinesPort = 0, MaxConnectionsPerAddress = 2, MaxConnections = 3 };
        await using var host = await BrokerHost.StartAsync(options, cancellationToken: Ct);
        var first = await BusClient.ConnectAsync(host.TcpAddress!, new BusClientOptions { ClientName = "one" }, Ct);
        await using var second = await BusClient.ConnectAsync(host.TcpAddress!, new BusClientOptions { ClientName = "two" }, Ct);
        var refused = await Assert.ThrowsAsync<SwitchboardException>(async () =>
            await BusClient.ConnectAsync(host.TcpAddress!, new BusClientOptions { ClientName = "three" }, Ct));
        Assert.Contains("MaxConnectionsPerAddress", refused.Message, StringComparison.Ordinal);
        await using var script = await Switchboard.Tests.JsonLines.JsonLinesPeer.ConnectAsync(host, Ct);
        var tooMany = await script.ExpectErrorAsync(ErrorCodes.TooMany);
        Assert.Contains("MaxConnectionsPerAddress", tooMany["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(await script.ClosedByBrokerAsync());
        Assert.Equal(2, host.Broker.ConnectionsRefused);

        await first.DisposeAsync();
        await Wait.UntilAsync(() => host.Broker.ConnectionCount == 1, "the first client's slot freed");
        await using var again = await BusClient.ConnectAsync(host.TcpAddress!, new BusClientOptions { ClientName = "again" }, Ct);
        Assert.True(again.IsConnected);
    }

    [Fact]
    public async Task WebSocket_clients_count_against_their_address_like_tcp_ones()
    {
        var options = new BrokerOptions { Port = 0, HttpPort = 0, MaxConnectionsPerAddress = 2 };
        await using var host = await BrokerHost.StartAsync(options, cancellationToken: Ct);
        await using var overTcp = await BusClient.ConnectAsync(host.TcpAddress!, new BusClientOptions { ClientName = "tcp" }, Ct);
        await using var overWs = await BusClient.ConnectAsync(host.WebSocketAddress!, new BusClientOptions { ClientName = "ws" }, Ct);
        var refused = await Assert.ThrowsAsync<SwitchboardException>(async () =>
            await BusClient.ConnectAsync(host.WebSocketAddress!, new BusClientOptions { ClientName = "third" }, Ct));
        Assert.Contains("MaxConnectionsPerAddress", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_declaration_too_big_for_presence_is_refused_and_the_largest_allowed_keeps_presence_listeners_connected()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var watcher = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("watcher"), Ct);
        await using var connects = await watcher.ListenAsync(null, "#connect", cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, Fixtures.FastReconnect("big"), Ct);

        // 16,000 events of 100 characters: 1.6 M characters, a #connect of more than 1.6 MB.
        var huge = Enumerable.Range(0, 16_000).Select(i => "#" + i.ToString("D99", System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var refused = await Assert.ThrowsAsync<SwitchboardException>(async () => await client.AddSenderAsync("huge", huge, cancellationToken: Ct));
        Assert.Equal(ErrorCodes.InvalidArgument, refused.Code);
        Assert.Contains("characters in all", refused.Message, StringComparison.Ordinal);

        // Just under the bound: the presence event fits the watcher's default 1 MiB frames.
        var large = Enumerable.Range(0, 2_600).Select(i => "#" + i.ToString("D99", System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        await client.AddSenderAsync("large", large, cancellationToken: Ct);
        BusMessage connect;
        do
        {
            connect = await connects.NextAsync();
        }
        while (connect.Sender != "large");

        Assert.True(connect.Data.Length > 200_000);
        Assert.True(watcher.IsConnected);
    }
}
