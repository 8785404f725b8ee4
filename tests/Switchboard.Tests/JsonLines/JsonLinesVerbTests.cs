using System.Net.Sockets;
using System.Text;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.JsonLines;

/// <summary>Every verb of the JSON-lines gateway (DESIGN.md, "JSON-lines gateway, the lines") against a real broker
/// over real TCP sockets, with only other JSON-lines connections as peers.</summary>
public sealed class JsonLinesVerbTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Ping_answers_pong_echoing_the_id_and_without_an_id()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var peer = await JsonLinesPeer.ConnectAsync(host, Ct);
        await peer.SendAsync("""{"op":"ping","id":7}""");
        Assert.Equal("""{"op":"pong","id":7}""", (await peer.AnswerAsync(7)).ToJsonString());
        await peer.SendAsync("""{"op":"ping"}""");
        var pong = await peer.TakeAsync(l => l["id"] is null, "a pong without id");
        Assert.Equal("""{"op":"pong"}""", pong.ToJsonString());
    }

    [Fact]
    public async Task Trigger_and_request_lines_carry_headers_and_trace_context_to_every_kind_of_listener_and_handler()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var a = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var b = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        var handled = new TaskCompletionSource<MessageHeaders>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var echo = await client.AddSenderAsync("echo", [], new Dictionary<string, RequestHandler>
        {
            ["echo"] = (request, _) =>
            {
                handled.TrySetResult(request.Headers);
                return ValueTask.FromResult(Payload.Json(1));
            },
        }, cancellationToken: Ct);
        await using var heard = await client.ListenAsync("s1", "tick", cancellationToken: Ct);
        await a.OkAsync("""{"op":"sender","name":"s1","events":["tick"],"id":1}""", 1);
        await b.OkAsync("""{"op":"listen","sender":"s1","event":"tick","id":"L1"}""", "L1");
        const string Parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

        await a.OkAsync($$"""{"op":"trigger","sender":"s1","event":"tick","data":5,"headers":{"traceparent":"{{Parent}}","tenant":"blue"},"id":2}""", 2);
        Assert.Equal($$$"""{"op":"event","listen":"L1","sender":"s1","event":"tick","data":5,"seq":1,"headers":{"traceparent":"{{{Parent}}}","tenant":"blue"}}""", (await b.EventAsync("L1", 1)).ToJsonString());
        var message = await heard.NextAsync();
        Assert.Equal(Parent, message.Headers["traceparent"]);
        Assert.Equal("blue", message.Headers["tenant"]);

        await a.SendAsync($$"""{"op":"request","sender":"echo","request":"echo","headers":{"traceparent":"{{Parent}}"},"id":3}""");
        await a.AnswerAsync(3);
        Assert.Equal(Parent, (await handled.Task.WaitAsync(Wait.Timeout, Ct))["traceparent"]);

        var bad = await a.ErrorAsync("""{"op":"trigger","sender":"s1","event":"tick","headers":{"n":1},"id":4}""", ErrorCodes.InvalidField, 4);
        Assert.Contains("headers", bad["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_endpoints_name_the_json_lines_port_and_keep_the_binary_one()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        Assert.StartsWith("sb://127.0.0.1:", host.TcpAddress);
        Assert.StartsWith("jsonl://127.0.0.1:", host.JsonLinesAddress);
        Assert.NotEqual(new Uri(host.TcpAddress!).Port, new Uri(host.JsonLinesAddress!).Port);
        Assert.Equal(2, host.Endpoints.Count);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        Assert.Contains(await client.GetSendersAsync(Ct), s => s.Name == Switchboard.Server.Broker.SystemSender);
    }

    [Fact]
    public async Task The_gateway_is_off_unless_asked()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        Assert.Null(host.JsonLinesAddress);
        Assert.Single(host.Endpoints);
        Assert.Null(new BrokerOptions().JsonLinesPort);
        Assert.Equal(1 << 20, new BrokerOptions().MaxJsonLineBytes);
    }

    [Fact]
    public async Task The_gateway_listens_on_a_unix_socket_too()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sb-jsonl-{Guid.NewGuid():N}.sock");
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, JsonLinesUnixSocketPath = path }, cancellationToken: Ct);
        Assert.Contains("jsonl+unix://" + path, host.Endpoints);
        Assert.NotNull(host.TcpAddress);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), Ct);
        await socket.SendAsync("{\"op\":\"senders\",\"id\":1}\n"u8.ToArray(), SocketFlags.None, Ct);
        var received = new StringBuilder();
        var buffer = new byte[4096];
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(Wait.Timeout);
        while (!received.ToString().Contains('\n'))
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
            Assert.NotEqual(0, read);
            received.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }

        Assert.StartsWith("""{"op":"senders","id":1,"senders":[{"name":"switchboard",""", received.ToString());
    }

    [Fact]
    public async Task Hello_answers_ok_with_the_server_name_and_is_only_allowed_first()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(new BrokerOptions { ServerName = "node-a" }, Ct);
        await using var peer = await JsonLinesPeer.ConnectAsync(host, Ct);
        await peer.SendAsync("""{"op":"ping","id":0}""");
        await peer.AnswerAsync(0);
        var ok = await peer.OkAsync("""{"op":"hello","client":"script-1","id":1}""", 1);
        Assert.Equal("node-a", ok["server"]!.GetValue<string>());
        await peer.OkAsync("""{"op":"sender","name":"s1","events":["#e"],"id":2}""", 2);
        await peer.ErrorAsync("""{"op":"hello","client":"again","id":3}""", ErrorCodes.UnexpectedHello, 3);
        await peer.OkAsync("""{"op":"trigger","sender":"s1","event":"#e","id":4}""", 4);
    }

    [Fact]
    public async Task With_authentication_on_hello_is_required_and_a_refused_token_closes_the_connection()
    {
        var options = new BrokerOptions { Authenticate = (client, token) => token == "secret" ? null : $"bad token for {client}" };
        await using var host = await JsonLinesPeer.StartBrokerAsync(options, Ct);
        await using (var peer = await JsonLinesPeer.ConnectAsync(host, Ct))
        {
            await peer.ErrorAsync("""{"op":"senders","id":1}""", ErrorCodes.Unauthorized, 1);
            await peer.SyncAsync(); // ping needs no hello
            var refused = await peer.ErrorAsync("""{"op":"hello","client":"mallory","token":"guess","id":2}""", ErrorCodes.Unauthorized, 2);
            Assert.Equal("bad token for mallory", refused["error"]!["message"]!.GetValue<string>());
            Assert.True(await peer.ClosedByBrokerAsync(), "A refused hello closes the connection.");
        }

        await using var good = await JsonLinesPeer.ConnectAsync(host, Ct);
        await good.OkAsync("""{"op":"hello","client":"alice","token":"secret","id":1}""", 1);
        await good.OkAsync("""{"op":"sender","name":"alice","events":["#x"],"id":2}""", 2);
    }

    [Fact]
    public async Task A_sender_triggers_and_a_listen_receives_with_its_id_and_a_sequence_from_1()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var a = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var b = await JsonLinesPeer.ConnectAsync(host, Ct);
        await a.OkAsync("""{"op":"sender","name":"s1","events":["tick","#temp"],"requests":["get_ticks"],"id":1}""", 1);
        await b.OkAsync("""{"op":"listen","sender":"s1","event":"tick","id":"L1"}""", "L1");
        await b.OkAsync("""{"op":"listen","sender":null,"event":"#temp","id":2}""", 2);
        await a.SendAsync("""{"op":"trigger","sender":"s1","event":"tick","data":5}""");
        await a.SendAsync("""{"op":"trigger","sender":"s1","event":"tick","data":{"n":[1,"two",null]}}""");
        await a.OkAsync("""{"op":"trigger","sender":"s1","event":"#temp","data":21.5,"id":3}""", 3);
        Assert.Equal("""{"op":"event","listen":"L1","sender":"s1","event":"tick","data":5,"seq":1}""", (await b.EventAsync("L1", 1)).ToJsonString());
        Assert.Equal("""{"op":"event","listen":"L1","sender":"s1","event":"tick","data":{"n":[1,"two",null]},"seq":2}""", (await b.EventAsync("L1", 2)).ToJsonString());
        Assert.Equal("""{"op":"event","listen":2,"sender":"s1","event":"#temp","data":21.5,"seq":1}""", (await b.EventAsync(2, 1)).ToJsonString());

        // Fire and forget: a trigger without an id gets no answer at all.
        await a.SyncAsync();
        Assert.Empty(a.Pending(_ => true));
    }

    [Fact]
    public async Task Trigger_takes_several_channel_events_and_retain_gives_a_new_listen_the_last_value_at_once()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var a = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var b = await JsonLinesPeer.ConnectAsync(host, Ct);
        await a.OkAsync("""{"op":"sender","name":"s1","events":["#a","#b","state"],"id":1}""", 1);
        await b.OkAsync("""{"op":"listen","event":"#a","id":"A"}""", "A");
        await b.OkAsync("""{"op":"listen","event":"#b","id":"B"}""", "B");
        await a.OkAsync("""{"op":"trigger","sender":"s1","events":["#a","#b"],"data":"both","id":2}""", 2);
        Assert.Equal("both", (await b.EventAsync("A", 1))["data"]!.GetValue<string>());
        Assert.Equal("both", (await b.EventAsync("B", 1))["data"]!.GetValue<string>());

        await a.OkAsync("""{"op":"trigger","sender":"s1","event":"state","data":{"on":true},"retain":true,"id":3}""", 3);
        await b.OkAsync("""{"op":"listen","sender":"s1","event":"state","id":"S"}""", "S");
        Assert.Equal("""{"op":"event","listen":"S","sender":"s1","event":"state","data":{"on":true},"seq":1}""", (await b.EventAsync("S", 1)).ToJsonString());
        await b.OkAsync("""{"op":"listen","sender":"s1","event":"state","retained":false,"id":"S2"}""", "S2");
        await b.SyncAsync();
        Assert.Empty(b.Pending(l => l["listen"]?.ToString() == "S2"));
    }

    [Fact]
    public async Task Trigger_refuses_undeclared_events_and_other_connections_senders()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var a = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var b = await JsonLinesPeer.ConnectAsync(host, Ct);
        await a.OkAsync("""{"op":"sender","name":"s1","events":["tick"],"id":1}""", 1);
        await a.ErrorAsync("""{"op":"trigger","sender":"s1","event":"tock","id":2}""", ErrorCodes.UndeclaredEvent, 2);
        await a.ErrorAsync("""{"op":"trigger","sender":"s1","event":"tock"}""", ErrorCodes.UndeclaredEvent); // no id: the error still comes
        await b.ErrorAsync("""{"op":"trigger","sender":"s1","event":"tick","id":3}""", ErrorCodes.UnknownSender, 3);
        await a.ErrorAsync("""{"op":"sender","name":"s1","events":["tick"],"id":4}""", ErrorCodes.SenderExists, 4);
        await b.ErrorAsync("""{"op":"sender","name":"s1","events":[],"id":5}""", ErrorCodes.SenderExists, 5);
        await a.ErrorAsync("""{"op":"sender","name":"s2","events":["#connect"],"id":6}""", ErrorCodes.ReservedName, 6);
        await a.ErrorAsync("""{"op":"sender","name":"s3","events":["x"],"will":{"event":"y"},"id":7}""", ErrorCodes.UndeclaredEvent, 7);
    }

    [Fact]
    public async Task Unsender_removes_the_sender_and_presence_says_so()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var a = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var watcher = await JsonLinesPeer.ConnectAsync(host, Ct);
        await watcher.OkAsync("""{"op":"listen","event":"#connect","id":"on"}""", "on");
        await watcher.OkAsync("""{"op":"listen","event":"#disconnect","id":"off"}""", "off");
        await a.OkAsync("""{"op":"sender","name":"s1","events":["tick"],"requests":["r"],"id":1}""", 1);
        var on = await watcher.EventAsync("on", 1);
        Assert.Equal("""{"name":"s1","events":["tick"],"requests":["r"]}""", on["data"]!.ToJsonString());
        await a.OkAsync("""{"op":"unsender","name":"s1","id":2}""", 2);
        var off = await watcher.EventAsync("off", 1);
        Assert.Equal("closed", off["data"]!["reason"]!.GetValue<string>());
        await a.ErrorAsync("""{"op":"trigger","sender":"s1","event":"tick","id":3}""", ErrorCodes.UnknownSender, 3);
        await a.ErrorAsync("""{"op":"unsender","name":"s1","id":4}""", ErrorCodes.UnknownSender, 4);
        await a.OkAsync("""{"op":"sender","name":"s1","events":["tick"],"id":5}""", 5); // the name is free again
    }

    [Fact]
    public async Task Unlisten_stops_deliveries_and_unknown_listens_are_refused()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var a = await JsonLinesPeer.ConnectAsync(host, Ct);
        await a.OkAsync("""{"op":"sender","name":"s1","events":["tick"],"id":1}""", 1);
        await a.OkAsync("""{"op":"listen","sender":"s1","event":"tick","id":"L1"}""", "L1");
        await a.OkAsync("""{"op":"listen","sender":"s1","id":9}""", 9);
        await a.ErrorAsync("""{"op":"listen","sender":"s1","id":"L1"}""", ErrorCodes.InvalidField, "L1");
        await a.OkAsync("""{"op":"trigger","sender":"s1","event":"tick","data":1,"id":2}""", 2);
        await a.EventAsync("L1", 1);
        await a.EventAsync(9, 1);
        await a.OkAsync("""{"op":"unlisten","listen":"L1","id":3}""", 3);
        await a.OkAsync("""{"op":"trigger","sender":"s1","event":"tick","data":2,"id":4}""", 4);
        await a.EventAsync(9, 2);
        await a.SyncAsync();
        Assert.Empty(a.Pending(l => l["listen"]?.ToString() == "L1"));
        await a.ErrorAsync("""{"op":"unlisten","listen":"L1","id":5}""", ErrorCodes.UnknownListen, 5);
        await a.OkAsync("""{"op":"unlisten","listen":9,"id":6}""", 6);
    }

    [Fact]
    public async Task A_listen_for_any_sender_and_event_receives_everything_and_a_targeted_one_is_refused()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var a = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var b = await JsonLinesPeer.ConnectAsync(host, Ct);
        var refused = await b.ErrorAsync("""{"op":"listen","sender":null,"event":"tick","id":0}""", ErrorCodes.TargetedNeedsSender, 0);
        Assert.Contains("#tick", refused["error"]!["message"]!.GetValue<string>());
        await b.OkAsync("""{"op":"listen","id":"all"}""", "all");
        await a.OkAsync("""{"op":"sender","name":"s1","events":["tick"],"id":1}""", 1);
        await a.OkAsync("""{"op":"trigger","sender":"s1","event":"tick","data":1,"id":2}""", 2);
        Assert.Equal("#connect", (await b.EventAsync("all", 1))["event"]!.GetValue<string>());
        Assert.Equal("tick", (await b.EventAsync("all", 2))["event"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_queue_group_delivers_each_event_to_one_of_its_listens()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var a = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var w1 = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var w2 = await JsonLinesPeer.ConnectAsync(host, Ct);
        await a.OkAsync("""{"op":"sender","name":"s1","events":["job"],"id":1}""", 1);
        await w1.OkAsync("""{"op":"listen","sender":"s1","event":"job","group":"workers","id":"w"}""", "w");
        await w2.OkAsync("""{"op":"listen","sender":"s1","event":"job","group":"workers","id":"w"}""", "w");
        for (var i = 0; i < 20; i++)
        {
            await a.SendAsync($$"""{"op":"trigger","sender":"s1","event":"job","data":{{i}}}""");
        }

        await a.SyncAsync();
        await w1.SyncAsync();
        await w2.SyncAsync();
        await Wait.UntilAsync(() => w1.Pending(IsEvent).Count + w2.Pending(IsEvent).Count == 20, "20 jobs delivered");
        var all = w1.Pending(IsEvent).Concat(w2.Pending(IsEvent)).Select(l => l["data"]!.GetValue<int>()).Order();
        Assert.Equal(Enumerable.Range(0, 20), all);
        await w1.ErrorAsync("""{"op":"listen","sender":"s1","group":"bad group","id":"g"}""", ErrorCodes.InvalidName, "g");

        static bool IsEvent(System.Text.Json.Nodes.JsonObject l) => l["op"]?.GetValue<string>() == "event";
    }

    [Fact]
    public async Task A_request_reaches_the_connection_that_declared_the_sender_and_its_respond_is_the_reply()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var server = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var asker = await JsonLinesPeer.ConnectAsync(host, Ct);
        await server.OkAsync("""{"op":"sender","name":"s1","events":[],"requests":["get_ticks","fail","slow"],"id":1}""", 1);

        await asker.SendAsync("""{"op":"request","sender":"s1","request":"get_ticks","data":{"q":1},"timeout_ms":5000,"id":7}""");
        var incoming = await server.TakeAsync(l => l["op"]?.GetValue<string>() == "request", "the incoming request");
        Assert.Equal("s1", incoming["sender"]!.GetValue<string>());
        Assert.Equal("get_ticks", incoming["request"]!.GetValue<string>());
        Assert.Equal("""{"q":1}""", incoming["data"]!.ToJsonString());
        var rid = incoming["rid"]!.GetValue<string>();
        await server.SendAsync($$"""{"op":"respond","rid":"{{rid}}","data":[42,"x"]}""");
        Assert.Equal("""{"op":"reply","id":7,"data":[42,"x"]}""", (await asker.AnswerAsync(7)).ToJsonString());

        await asker.SendAsync("""{"op":"request","sender":"s1","request":"fail","id":8}""");
        incoming = await server.TakeAsync(l => l["op"]?.GetValue<string>() == "request", "the second incoming request");
        await server.SendAsync($$"""{"op":"respond","rid":"{{incoming["rid"]}}","error":"disk on fire"}""");
        var failed = await asker.ExpectErrorAsync(ErrorCodes.HandlerError, 8);
        Assert.Contains("disk on fire", failed["error"]!["message"]!.GetValue<string>());
        await server.ErrorAsync($$"""{"op":"respond","rid":"{{incoming["rid"]}}","data":1,"id":"again"}""", ErrorCodes.UnknownRid, "again");

        await asker.SendAsync("""{"op":"request","sender":"s1","request":"slow","timeout_ms":100,"id":9}""");
        incoming = await server.TakeAsync(l => l["op"]?.GetValue<string>() == "request", "the slow incoming request");
        await asker.ExpectErrorAsync(ErrorCodes.Timeout, 9);
        // A respond after the timeout goes nowhere (the router may or may not have told the forwarder yet, so no id here).
        await server.SendAsync($$"""{"op":"respond","rid":"{{incoming["rid"]}}","data":"too late"}""");
        await server.SyncAsync();
        await asker.SyncAsync();
        Assert.Empty(asker.Pending(l => l["op"]?.GetValue<string>() == "reply"));

        await asker.ErrorAsync("""{"op":"request","sender":"s1","request":"nothing_here","id":11}""", ErrorCodes.NoHandler, 11);
        await asker.ErrorAsync("""{"op":"request","sender":"nobody","request":"get_ticks","id":12}""", ErrorCodes.NoSender, 12);
    }

    [Fact]
    public async Task A_sender_with_a_default_handler_answers_any_request_name()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var server = await JsonLinesPeer.ConnectAsync(host, Ct);
        await server.OkAsync("""{"op":"sender","name":"s1","default_handler":true,"id":1}""", 1);
        await server.SendAsync("""{"op":"request","sender":"s1","request":"anything.at_all","id":2}""");
        var incoming = await server.TakeAsync(l => l["op"]?.GetValue<string>() == "request", "the request to itself");
        Assert.Equal("anything.at_all", incoming["request"]!.GetValue<string>());
        Assert.True(incoming.ContainsKey("data"));
        Assert.Null(incoming["data"]);
        await server.SendAsync($$$"""{"op":"respond","rid":"{{{incoming["rid"]}}}","error":{"message":"no such thing"}}""");
        var error = await server.ExpectErrorAsync(ErrorCodes.HandlerError, 2);
        Assert.Equal("Sender 's1' failed to answer 'anything.at_all': no such thing", error["error"]!["message"]!.GetValue<string>());
        var senders = await server.AskAsync("""{"op":"senders","id":3}""", 3);
        Assert.Contains("\"default_handler\":true", senders.ToJsonString());
    }

    [Fact]
    public async Task Producers_answer_a_gather_with_results_as_they_arrive_then_gathered()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var p = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var asker = await JsonLinesPeer.ConnectAsync(host, Ct);
        var ok = await p.OkAsync("""{"op":"producer","name":"p1","topics":["topic1"],"id":1}""", 1);
        Assert.Equal("p1", ok["name"]!.GetValue<string>());
        var unnamed = await p.OkAsync("""{"op":"producer","topics":["topic1","topic2"],"id":2}""", 2);
        var p2 = unnamed["name"]!.GetValue<string>();
        await p.OkAsync("""{"op":"producer","name":"p3","topics":["topic1"],"id":3}""", 3);

        await asker.SendAsync("""{"op":"gather","topic":"topic1","data":{"x":1},"ttl_ms":1500,"id":9}""");
        var asked = new Dictionary<string, string>();
        for (var i = 0; i < 3; i++)
        {
            var produce = await p.TakeAsync(l => l["op"]?.GetValue<string>() == "produce", "a produce");
            Assert.Equal("topic1", produce["topic"]!.GetValue<string>());
            Assert.Equal("""{"x":1}""", produce["data"]!.ToJsonString());
            asked[produce["producer"]!.GetValue<string>()] = produce["rid"]!.GetValue<string>();
        }

        Assert.Equal(["p1", "p3", p2], asked.Keys.Order());
        await p.SendAsync($$"""{"op":"respond","rid":"{{asked["p1"]}}","data":1}""");
        var first = await asker.TakeAsync(l => l["op"]?.GetValue<string>() == "result", "the first result");
        Assert.Equal("""{"op":"result","id":9,"producer":"p1","data":1}""", first.ToJsonString());
        await p.SendAsync($$"""{"op":"respond","rid":"{{asked[p2]}}","data":"two"}""");
        await p.SendAsync($$"""{"op":"respond","rid":"{{asked["p3"]}}","error":"no data"}""");
        var second = await asker.TakeAsync(l => l["op"]?.GetValue<string>() == "result", "the second result");
        Assert.Equal(p2, second["producer"]!.GetValue<string>());
        var gathered = await asker.TakeAsync(l => l["op"]?.GetValue<string>() == "gathered", "gathered");
        Assert.Equal($$"""{"op":"gathered","id":9,"topic":"topic1","answered":["p1","{{p2}}"],"missing":[],"failed":{"p3":"no data"},"late":0}""", gathered.ToJsonString());

        await p.OkAsync("""{"op":"unproducer","name":"p1","id":4}""", 4);
        await p.ErrorAsync("""{"op":"unproducer","name":"p1","id":5}""", ErrorCodes.UnknownProducer, 5);
        await p.ErrorAsync("""{"op":"producer","name":"p3","topics":["topic9"],"id":6}""", ErrorCodes.ProducerExists, 6);
        await asker.SendAsync("""{"op":"gather","topic":"nobody.here","id":10}""");
        Assert.Equal("""{"op":"gathered","id":10,"topic":"nobody.here","answered":[],"missing":[],"failed":{},"late":0}""", (await asker.AnswerAsync(10)).ToJsonString());
    }

    [Fact]
    public async Task Results_listens_to_every_gather_result_of_a_topic_whoever_gathered_and_unlisten_ends_it()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var producers = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        await using var p1 = await producers.AddProducerAsync("prices", (r, _) => ValueTask.FromResult(Payload.Json(42)), new ProducerOptions { Name = "shop-1" }, Ct);
        await using var script = await JsonLinesPeer.ConnectAsync(host, Ct);
        await script.OkAsync("""{"op":"results","topic":"prices","id":"R1"}""", "R1");

        var summary = await producers.GatherAsync("prices", Payload.Json("espresso"), TimeSpan.FromSeconds(5), cancellationToken: Ct).Summary;
        Assert.Equal(["shop-1"], summary.Answered);
        var result = await script.TakeAsync(l => l["op"]?.GetValue<string>() == "result", "the result line");
        Assert.Equal("""{"op":"result","listen":"R1","producer":"shop-1","topic":"prices","data":42,"seq":1}""", result.ToJsonString());

        await script.OkAsync("""{"op":"unlisten","listen":"R1","id":2}""", 2);
        await producers.GatherAsync("prices", default, TimeSpan.FromSeconds(5), cancellationToken: Ct).Summary;
        await script.SyncAsync();
        Assert.Empty(script.Pending(l => l["op"]?.GetValue<string>() == "result"));
        await script.ErrorAsync("""{"op":"results","topic":"bad topic","id":3}""", ErrorCodes.InvalidName, 3);
    }

    [Fact]
    public async Task A_script_sender_may_declare_a_channel_pattern_and_trigger_what_it_matches()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var bot = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var reader = await JsonLinesPeer.ConnectAsync(host, Ct);
        await reader.OkAsync("""{"op":"listen","event":"#direct.alice","id":"L1"}""", "L1");
        await bot.OkAsync("""{"op":"sender","name":"bot","events":["#direct.>"],"id":1}""", 1);
        await bot.OkAsync("""{"op":"trigger","sender":"bot","event":"#direct.alice","data":"hi","id":2}""", 2);
        var delivered = await reader.TakeAsync(l => l["op"]?.GetValue<string>() == "event", "the event");
        Assert.Equal("""{"op":"event","listen":"L1","sender":"bot","event":"#direct.alice","data":"hi","seq":1}""", delivered.ToJsonString());
        await bot.ErrorAsync("""{"op":"trigger","sender":"bot","event":"#other","id":3}""", ErrorCodes.UndeclaredEvent, 3);
        await bot.ErrorAsync("""{"op":"trigger","sender":"bot","event":"#direct.*","id":4}""", ErrorCodes.InvalidName, 4);
    }

    [Fact]
    public async Task Topics_adds_and_removes_topics_of_a_live_producer()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var p = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var asker = await JsonLinesPeer.ConnectAsync(host, Ct);
        await p.OkAsync("""{"op":"producer","name":"p1","topics":["t1"],"id":1}""", 1);
        await p.OkAsync("""{"op":"topics","producer":"p1","add":["t2"],"remove":["t1"],"id":2}""", 2);

        await asker.SendAsync("""{"op":"gather","topic":"t1","ttl_ms":300,"id":10}""");
        Assert.Equal("""{"op":"gathered","id":10,"topic":"t1","answered":[],"missing":[],"failed":{},"late":0}""", (await asker.AnswerAsync(10)).ToJsonString());
        await asker.SendAsync("""{"op":"gather","topic":"t2","ttl_ms":5000,"id":11}""");
        var produce = await p.TakeAsync(l => l["op"]?.GetValue<string>() == "produce", "a produce for t2");
        Assert.Equal("t2", produce["topic"]!.GetValue<string>());
        await p.SendAsync($$"""{"op":"respond","rid":"{{produce["rid"]}}","data":2}""");
        var gathered = await asker.TakeAsync(l => l["op"]?.GetValue<string>() == "gathered", "gathered t2");
        Assert.Equal("""["p1"]""", gathered["answered"]!.ToJsonString());

        await p.ErrorAsync("""{"op":"topics","producer":"nobody","add":["t3"],"id":3}""", ErrorCodes.UnknownProducer, 3);
        await p.ErrorAsync("""{"op":"topics","producer":"p1","add":["bad topic"],"id":4}""", ErrorCodes.InvalidName, 4);
    }

    [Fact]
    public async Task A_gather_names_the_producers_that_missed_the_ttl_and_reports_late_results()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var p = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var asker = await JsonLinesPeer.ConnectAsync(host, Ct);
        await p.OkAsync("""{"op":"producer","name":"slow","topics":["t"],"id":1}""", 1);
        await asker.SendAsync("""{"op":"gather","topic":"t","ttl_ms":100,"id":"g"}""");
        var produce = await p.TakeAsync(l => l["op"]?.GetValue<string>() == "produce", "the produce");
        var gathered = await asker.AnswerAsync("g");
        Assert.Equal("""{"op":"gathered","id":"g","topic":"t","answered":[],"missing":["slow"],"failed":{},"late":0}""", gathered.ToJsonString());
        await p.SendAsync($$"""{"op":"respond","rid":"{{produce["rid"]}}","data":"finally"}""");
        var late = await asker.TakeAsync(l => l["op"]?.GetValue<string>() == "late", "the late notice");
        Assert.Equal("""{"op":"late","id":"g","topic":"t","late":1}""", late.ToJsonString());
    }

    [Fact]
    public async Task Senders_lists_the_senders_online_with_their_events_and_requests()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var a = await JsonLinesPeer.ConnectAsync(host, Ct);
        await a.OkAsync("""{"op":"sender","name":"s1","events":["tick","#temp"],"requests":["get_ticks"],"id":1}""", 1);
        var list = await a.AskAsync("""{"op":"senders","id":3}""", 3);
        Assert.Equal("""{"op":"senders","id":3,"senders":[{"name":"s1","events":["tick","#temp"],"requests":["get_ticks"]},{"name":"switchboard","events":["#slow_consumer","#lame_duck"],"requests":[]}]}""", list.ToJsonString());
    }

    [Fact]
    public async Task A_connection_that_dies_fires_its_senders_last_wills_and_bye_does_not()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var watcher = await JsonLinesPeer.ConnectAsync(host, Ct);
        await watcher.OkAsync("""{"op":"listen","event":"#temp","id":"t"}""", "t");
        await watcher.OkAsync("""{"op":"listen","event":"#disconnect","id":"off"}""", "off");
        var dying = await JsonLinesPeer.ConnectAsync(host, Ct);
        await dying.OkAsync("""{"op":"sender","name":"s1","events":["#temp"],"will":{"event":"#temp","data":{"dead":true}},"id":1}""", 1);
        await dying.DisposeAsync();
        Assert.Equal("""{"dead":true}""", (await watcher.EventAsync("t", 1))["data"]!.ToJsonString());
        Assert.Equal("connection_lost", (await watcher.EventAsync("off", 1))["data"]!["reason"]!.GetValue<string>());

        await using var leaving = await JsonLinesPeer.ConnectAsync(host, Ct);
        await leaving.OkAsync("""{"op":"sender","name":"s2","events":["#temp"],"will":{"event":"#temp","data":0},"id":1}""", 1);
        await leaving.OkAsync("""{"op":"bye","id":2}""", 2);
        Assert.True(await leaving.ClosedByBrokerAsync(), "bye closes the connection");
        Assert.Equal("closed", (await watcher.EventAsync("off", 2))["data"]!["reason"]!.GetValue<string>());
        await watcher.SyncAsync();
        Assert.Empty(watcher.Pending(l => l["listen"]?.ToString() == "t"));
    }

    [Fact]
    public async Task At_the_end_of_input_the_broker_still_answers_what_was_asked_then_closes()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var server = await JsonLinesPeer.ConnectAsync(host, Ct);
        await server.OkAsync("""{"op":"sender","name":"s1","requests":["r"],"id":1}""", 1);
        await using var script = await JsonLinesPeer.ConnectAsync(host, Ct);
        await script.SendAsync("""{"op":"request","sender":"s1","request":"r","id":2}""");
        script.ShutdownSend();
        var incoming = await server.TakeAsync(l => l["op"]?.GetValue<string>() == "request", "the request");
        await server.SendAsync($$"""{"op":"respond","rid":"{{incoming["rid"]}}","data":"answer"}""");
        Assert.Equal("answer", (await script.AnswerAsync(2))["data"]!.GetValue<string>());
        Assert.True(await script.ClosedByBrokerAsync());
    }

    [Fact]
    public async Task Stopping_the_broker_closes_json_lines_connections_promptly()
    {
        var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var peer = await JsonLinesPeer.ConnectAsync(host, Ct);
        await peer.OkAsync("""{"op":"sender","name":"s1","id":1}""", 1);
        var stopping = host.DisposeAsync().AsTask();
        Assert.True(await peer.ClosedByBrokerAsync());
        await stopping.WithinAsync("the broker stopping");
    }
}
