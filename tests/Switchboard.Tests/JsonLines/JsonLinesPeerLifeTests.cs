using System.Text.Json;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.JsonLines;

/// <summary>A JSON-lines client is a broker peer like a binary one: counted, heartbeated once it said hello, told of a
/// lame-duck shutdown, announced as a slow consumer, and relayed to without a task.</summary>
public sealed class JsonLinesPeerLifeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Json_lines_connections_count_among_the_brokers_connections_and_their_messages()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var listener = await host.Broker.Bus.ListenAsync("s1", "tick", cancellationToken: Ct);
        await using var script = await JsonLinesPeer.ConnectAsync(host, Ct);
        await script.OkAsync("""{"op":"sender","name":"s1","events":["tick"],"id":1}""", 1);
        await script.OkAsync("""{"op":"listen","sender":"s1","event":"tick","id":"L1"}""", "L1");
        Assert.Equal(1, host.Broker.ConnectionCount);

        await script.OkAsync("""{"op":"trigger","sender":"s1","event":"tick","data":1,"id":2}""", 2);
        await script.EventAsync("L1", 1);
        await listener.NextAsync();
        Assert.Equal(1, host.Broker.MessagesIn);
        Assert.Equal(1, host.Broker.MessagesOut);

        await script.OkAsync("""{"op":"bye","id":3}""", 3);
        Assert.True(await script.ClosedByBrokerAsync());
        await Wait.UntilAsync(() => host.Broker.ConnectionCount == 0, "the connection leaving the count");
        Assert.Equal(1, host.Broker.MessagesIn); // counts of closed connections are kept
    }

    [Fact]
    public async Task A_client_that_said_hello_is_pinged_and_cut_when_it_stops_answering_and_its_will_fires()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(new BrokerOptions { HeartbeatInterval = TimeSpan.FromMilliseconds(200), HeartbeatMisses = 2 }, Ct);
        await using var wills = await host.Broker.Bus.ListenAsync(null, "#status", cancellationToken: Ct);
        await using var silent = await JsonLinesPeer.ConnectAsync(host, Ct);
        await silent.OkAsync("""{"op":"hello","client":"sensor","id":0}""", 0);
        await silent.OkAsync("""{"op":"sender","name":"sensor9","events":["#status"],"will":{"event":"#status","data":"offline"},"id":1}""", 1);

        await silent.TakeAsync(line => line["op"]?.GetValue<string>() == "ping", "the broker's ping");
        var will = await wills.NextAsync();
        Assert.Equal(("sensor9", "\"offline\""), (will.Sender, will.Data.ToString()));
        Assert.True(await silent.ClosedByBrokerAsync());
        Assert.Equal(1, host.Broker.HeartbeatTimeouts);
    }

    [Fact]
    public async Task A_client_that_answers_pings_stays_and_a_script_without_hello_is_left_to_tcp_keepalive()
    {
        // Success path: a loaded machine may stall a reply for a while, so the cut comes only after 4 silent intervals.
        var options = new BrokerOptions { HeartbeatInterval = TimeSpan.FromMilliseconds(300), HeartbeatMisses = 4 };
        await using var host = await JsonLinesPeer.StartBrokerAsync(options, Ct);
        await using var answering = await JsonLinesPeer.ConnectAsync(host, Ct);
        await answering.OkAsync("""{"op":"hello","client":"app","id":0}""", 0);
        await using var script = await JsonLinesPeer.ConnectAsync(host, Ct);
        await script.OkAsync("""{"op":"sender","name":"s1","id":1}""", 1);

        // Ten heartbeat intervals: the answering client pongs each ping; the script is never pinged, and both stay.
        for (var pings = 0; pings < 10; pings++)
        {
            await answering.TakeAsync(line => line["op"]?.GetValue<string>() == "ping", $"ping {pings + 1}");
            await answering.SendAsync("""{"op":"pong"}""");
        }

        Assert.Empty(script.Pending(line => line["op"]?.GetValue<string>() == "ping"));
        Assert.Equal(0, host.Broker.HeartbeatTimeouts);
        Assert.Contains((await script.AskAsync("""{"op":"senders","id":2}""", 2))["senders"]!.AsArray(), s => s!["name"]!.GetValue<string>() == "s1");
        Assert.Equal(2, host.Broker.ConnectionCount);
    }

    [Fact]
    public async Task A_lame_duck_broker_tells_json_lines_clients_it_is_going_away()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(new BrokerOptions { LameDuckGrace = TimeSpan.FromSeconds(5) }, Ct);
        await using var script = await JsonLinesPeer.ConnectAsync(host, Ct);
        await script.OkAsync("""{"op":"sender","name":"s1","id":1}""", 1);
        var lameDuck = host.Broker.LameDuckAsync("maintenance", Ct);

        var notice = await script.TakeAsync(line => line["op"]?.GetValue<string>() == "going_away", "the lame-duck notice");
        Assert.Equal("maintenance", notice["reason"]!.GetValue<string>());
        await script.OkAsync("""{"op":"bye","id":2}""", 2);
        await lameDuck.WithinAsync("the lame duck ending once its client left");

        await using var late = await JsonLinesPeer.ConnectAsync(host, Ct);
        var refused = await late.ExpectErrorAsync(ErrorCodes.GoingAway);
        Assert.Contains("shutting down", refused["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_json_lines_slow_consumer_is_announced_on_the_bus_like_a_binary_one()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(new BrokerOptions { MaxOutboundBytes = 64 * 1024 }, Ct);
        await using var notices = await host.Broker.Bus.ListenAsync(Server.Broker.SystemSender, "#slow_consumer", cancellationToken: Ct);
        var uri = new Uri(host.JsonLinesAddress!);
        using var stalled = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await stalled.ConnectAsync(uri.Host, uri.Port, Ct);
        await stalled.SendAsync(System.Text.Encoding.UTF8.GetBytes("""{"op":"listen","event":"#flood","id":"L"}""" + "\n"), Ct);
        await using var sender = await host.Broker.Bus.AddSenderAsync("flooder", ["#flood"], cancellationToken: Ct);
        await Wait.UntilAsync(() => host.Broker.Router.Listeners.Count >= 2, "the stalled listen is registered");

        // The raw peer never reads: far more than the bound and its socket buffers can hold.
        var payload = Payload.Json(new string('x', 8 * 1024));
        for (var i = 0; i < 2_000 && host.Broker.SlowConsumers == 0; i++)
        {
            await sender.TriggerAsync("#flood", payload, cancellationToken: Ct);
        }

        var notice = JsonDocument.Parse((await notices.NextAsync()).Data.Bytes).RootElement;
        Assert.Equal("disconnect", notice.GetProperty("policy").GetString());
        Assert.StartsWith("j", notice.GetProperty("connection").GetString(), StringComparison.Ordinal);
        await Wait.UntilAsync(() => host.Broker.ConnectionCount == 0, "the slow consumer is cut");
    }

    [Fact]
    public async Task A_request_from_a_script_to_another_client_is_relayed_and_counted_as_pending()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var server = await JsonLinesPeer.ConnectAsync(host, Ct);
        await server.OkAsync("""{"op":"sender","name":"s1","requests":["r"],"id":1}""", 1);
        await using var script = await JsonLinesPeer.ConnectAsync(host, Ct);
        await script.SendAsync("""{"op":"request","sender":"s1","request":"r","data":5,"id":"q"}""");

        var incoming = await server.TakeAsync(line => line["op"]?.GetValue<string>() == "request", "the relayed request");
        Assert.Equal(1, host.Broker.RelayedRequestsPending);
        await server.SendAsync($$$"""{"op":"respond","rid":"{{{incoming["rid"]}}}","data":{"n":6}}""");
        Assert.Equal(6, (await script.AnswerAsync("q"))["data"]!["n"]!.GetValue<int>());
        Assert.Equal(0, host.Broker.RelayedRequestsPending);
    }

    [Fact]
    public async Task A_binary_client_that_never_says_hello_is_told_why_before_it_is_closed()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, HandshakeTimeout = TimeSpan.FromMilliseconds(300) }, cancellationToken: Ct);
        await using var silent = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        var error = await silent.ReadErrorAsync(Ct);
        Assert.Equal(ErrorCodes.HandshakeTimeout, error.Code);
        Assert.Contains("HandshakeTimeout", error.Message, StringComparison.Ordinal);
    }
}
