using System.Text;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.JsonLines;

/// <summary>A script on the JSON-lines gateway and a <see cref="BusClient"/> on the binary protocol share one bus:
/// requests, gathers and events cross between them both ways, and data crosses as JSON bytes.</summary>
public sealed class JsonLinesInteropTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_script_sender_answers_a_request_from_a_bus_client()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var script = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        await script.OkAsync("""{"op":"sender","name":"script","events":["tick"],"requests":["get_ticks","broken"],"id":1}""", 1);

        var asking = client.RequestAsync("script", "get_ticks", Payload.Json(new { from = 3 }), TimeSpan.FromSeconds(5), cancellationToken: Ct).AsTask();
        var incoming = await script.TakeAsync(l => l["op"]?.GetValue<string>() == "request", "the request from the client");
        Assert.Equal("""{"from":3}""", incoming["data"]!.ToJsonString());
        await script.SendAsync($$$"""{"op":"respond","rid":"{{{incoming["rid"]}}}","data":{"ticks":42}}""");
        var answer = await asking.WithinAsync("the reply");
        Assert.Equal("""{"ticks":42}""", answer.ToString());
        Assert.Equal(42, answer.As<TicksAnswer>()!.Ticks);

        var failing = client.RequestAsync("script", "broken", cancellationToken: Ct).AsTask();
        incoming = await script.TakeAsync(l => l["op"]?.GetValue<string>() == "request", "the second request");
        await script.SendAsync($$"""{"op":"respond","rid":"{{incoming["rid"]}}","error":"not today"}""");
        var error = await Assert.ThrowsAsync<RequestFailedException>(() => failing.WithinAsync("the failure"));
        Assert.Equal(ErrorCodes.HandlerError, error.Code);
        Assert.Contains("not today", error.Message);

        var noHandler = await Assert.ThrowsAsync<RequestFailedException>(() => client.RequestAsync("script", "other", cancellationToken: Ct).AsTask());
        Assert.Equal(ErrorCodes.NoHandler, noHandler.Code);
    }

    [Fact]
    public async Task A_bus_client_sender_answers_a_request_from_a_script()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        await using var script = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var timer = await client.AddSenderAsync("timer", ["tick"], new()
        {
            ["get_ticks"] = (request, _) => ValueTask.FromResult(Payload.Json(new { asked = request.Data.As<int>() * 2 })),
            ["fail"] = (_, _) => throw new InvalidOperationException("out of ticks"),
            ["raw"] = (_, _) => ValueTask.FromResult(Payload.Utf8("plain text, not JSON")),
        }, cancellationToken: Ct);

        var reply = await script.AskAsync("""{"op":"request","sender":"timer","request":"get_ticks","data":21,"timeout_ms":5000,"id":7}""", 7);
        Assert.Equal("""{"op":"reply","id":7,"data":{"asked":42}}""", reply.ToJsonString());
        var failed = await script.ErrorAsync("""{"op":"request","sender":"timer","request":"fail","id":8}""", ErrorCodes.HandlerError, 8);
        Assert.Contains("out of ticks", failed["error"]!["message"]!.GetValue<string>());
        reply = await script.AskAsync("""{"op":"request","sender":"timer","request":"raw","id":9}""", 9);
        Assert.Equal("""{"op":"reply","id":9,"data":"plain text, not JSON"}""", reply.ToJsonString());
    }

    [Fact]
    public async Task A_listen_delivers_events_from_a_bus_client_sender_with_seq_1_2_3_and_json_bytes_cross_as_they_are()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        await using var script = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var sensor = await client.AddSenderAsync("sensor", ["temp", "#raw"], cancellationToken: Ct);
        await script.OkAsync("""{"op":"listen","sender":"sensor","event":"temp","id":"L1"}""", "L1");
        await script.OkAsync("""{"op":"listen","event":"#raw","id":"R"}""", "R");
        for (var i = 1; i <= 3; i++)
        {
            await sensor.TriggerAsync("temp", Payload.Json(new { c = 20 + i }), cancellationToken: Ct);
        }

        await sensor.TriggerAsync("#raw", Payload.Utf8("not \"json\"\n"), cancellationToken: Ct);
        await sensor.TriggerAsync("#raw", new byte[] { 0xff, 0x41 }, cancellationToken: Ct);
        await sensor.TriggerAsync("#raw", Payload.Utf8("{\n  \"indented\": [1,\n 2]\n}"), cancellationToken: Ct);
        await sensor.TriggerAsync("#raw", cancellationToken: Ct);
        await sensor.TriggerAsync("#raw", new byte[] { (byte)'"', 0xff, (byte)'"' }, cancellationToken: Ct); // JSON-shaped, not UTF-8
        for (var i = 1; i <= 3; i++)
        {
            Assert.Equal($$"""{"op":"event","listen":"L1","sender":"sensor","event":"temp","data":{"c":{{20 + i}}},"seq":{{i}}}""", (await script.EventAsync("L1", i)).ToJsonString());
        }

        Assert.Equal("not \"json\"\n", (await script.EventAsync("R", 1))["data"]!.GetValue<string>());
        Assert.Equal("\uFFFDA", (await script.EventAsync("R", 2))["data"]!.GetValue<string>());
        Assert.Equal("""{"indented":[1,2]}""", (await script.EventAsync("R", 3))["data"]!.ToJsonString());
        var empty = await script.EventAsync("R", 4);
        Assert.True(empty.ContainsKey("data"));
        Assert.Null(empty["data"]);
        Assert.Equal("\"\uFFFD\"", (await script.EventAsync("R", 5))["data"]!.GetValue<string>());

        // And the other way: what a script triggers reaches a bus client as the JSON text it sent.
        await using var queue = await client.ListenAsync("script", "tick", cancellationToken: Ct);
        await script.OkAsync("""{"op":"sender","name":"script","events":["tick"],"id":1}""", 1);
        await script.OkAsync("""{"op":"trigger","sender":"script","event":"tick","data":{"a": [1, 2.50, "x"]},"id":2}""", 2);
        await script.OkAsync("""{"op":"trigger","sender":"script","event":"tick","id":3}""", 3);
        var message = await queue.NextAsync();
        Assert.Equal("script", message.Sender);
        Assert.Equal("""{"a": [1, 2.50, "x"]}""", Encoding.UTF8.GetString(message.Data.Bytes.Span));
        Assert.True((await queue.NextAsync()).Data.IsEmpty);
    }

    [Fact]
    public async Task A_listens_ok_means_registered_and_comes_before_its_first_event()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        await using var script = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var sender = await client.AddSenderAsync("busy", ["#n", "#r"], cancellationToken: Ct);
        await sender.TriggerAsync("#r", Payload.Json("kept"), retain: true, cancellationToken: Ct);
        for (var round = 0; round < 50; round++)
        {
            // Another connection triggers as soon as the ok arrives: the listen must already be in place.
            var id = $"L{round}";
            await script.OkAsync($$"""{"op":"listen","event":"#n","retained":false,"id":"{{id}}"}""", id);
            await sender.TriggerAsync("#n", Payload.Json(round), cancellationToken: Ct);
            Assert.Equal(round, (await script.EventAsync(id, 1))["data"]!.GetValue<int>());

            // A retained value is delivered at once, but after the ok.
            var retainedId = $"R{round}";
            await script.OkAsync($$"""{"op":"listen","event":"#r","id":"{{retainedId}}"}""", retainedId);
            await script.EventAsync(retainedId, 1);
            var mine = script.All.Where(l => JsonLinesPeer.IdIs(l, retainedId) || JsonLinesPeer.IdIs(l, retainedId, "listen")).ToList();
            Assert.True(mine[0]["ok"]?.GetValue<bool>() == true, $"The first line for {retainedId} was {mine[0].ToJsonString()}");
            await script.OkAsync($$"""{"op":"unlisten","listen":"{{id}}","id":"u{{round}}"}""", $"u{round}");
            await script.OkAsync($$"""{"op":"unlisten","listen":"{{retainedId}}","id":"v{{round}}"}""", $"v{round}");
        }
    }

    [Fact]
    public async Task A_script_producer_answers_a_gather_started_by_a_bus_client()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        await using var script = await JsonLinesPeer.ConnectAsync(host, Ct);
        await script.OkAsync("""{"op":"producer","name":"py","topics":["prices"],"id":1}""", 1);
        await using var local = await client.AddProducerAsync("prices", (_, _) => ValueTask.FromResult(Payload.Json(10)), new ProducerOptions { Name = "dotnet" }, Ct);

        var gather = client.GatherAsync("prices", Payload.Json("EUR"), TimeSpan.FromSeconds(5), cancellationToken: Ct);
        var produce = await script.TakeAsync(l => l["op"]?.GetValue<string>() == "produce", "the produce");
        Assert.Equal("""{"op":"produce","topic":"prices","producer":"py","data":"EUR","rid":"r1"}""", produce.ToJsonString());
        await script.SendAsync("""{"op":"respond","rid":"r1","data":12.5}""");
        var results = new Dictionary<string, string>();
        await foreach (var result in gather.WithCancellation(Ct))
        {
            results[result.Producer] = result.Data.ToString();
        }

        var summary = await gather.Summary.WithinAsync("the summary");
        Assert.Equal(new Dictionary<string, string> { ["py"] = "12.5", ["dotnet"] = "10" }, results);
        Assert.Equal(["dotnet", "py"], summary.Answered.Order());
        Assert.Empty(summary.Missing);
    }

    [Fact]
    public async Task A_script_gathers_over_bus_client_producers_and_hears_of_the_late_one()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        await using var script = await JsonLinesPeer.ConnectAsync(host, Ct);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fast = await client.AddProducerAsync("quotes", (r, _) => ValueTask.FromResult(Payload.Json(new { from = "fast", asked = r.Data.As<string>() })), new ProducerOptions { Name = "fast" }, Ct);
        await using var slow = await client.AddProducerAsync("quotes", async (_, _) =>
        {
            await release.Task; // answers only after the gather ended: a late result
            return Payload.Json("slow");
        }, new ProducerOptions { Name = "slow" }, Ct);

        await script.SendAsync("""{"op":"gather","topic":"quotes","data":"q","ttl_ms":1500,"id":9}""");
        var result = await script.TakeAsync(l => l["op"]?.GetValue<string>() == "result", "the fast result");
        Assert.Equal("""{"op":"result","id":9,"producer":"fast","data":{"from":"fast","asked":"q"}}""", result.ToJsonString());
        var gathered = await script.TakeAsync(l => l["op"]?.GetValue<string>() == "gathered", "gathered");
        Assert.Equal("""{"op":"gathered","id":9,"topic":"quotes","answered":["fast"],"missing":["slow"],"failed":{},"late":0}""", gathered.ToJsonString());
        release.SetResult();
        var late = await script.TakeAsync(l => l["op"]?.GetValue<string>() == "late", "the late notice");
        Assert.Equal("""{"op":"late","id":9,"topic":"quotes","late":1}""", late.ToJsonString());
        Assert.Equal(1, host.Broker.Bus.Counters.LateResults);
    }

    [Fact]
    public async Task Presence_from_a_script_reaches_bus_clients_and_the_other_way()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        await using var script = await JsonLinesPeer.ConnectAsync(host, Ct);
        await using var connects = await client.ListenAsync(null, "#connect", cancellationToken: Ct);
        await script.OkAsync("""{"op":"listen","event":"#connect","id":"c"}""", "c");
        await script.OkAsync("""{"op":"sender","name":"from_script","events":["x"],"id":1}""", 1);
        Assert.Equal("from_script", (await connects.NextAsync()).Sender);
        await using var s = await client.AddSenderAsync("from_client", ["y"], cancellationToken: Ct);
        var seen = await script.EventAsync("c", 2);
        Assert.Equal("from_client", seen["sender"]!.GetValue<string>());
        Assert.Contains(await client.GetSendersAsync(Ct), i => i.Name == "from_script" && i.Events.SequenceEqual(["x"]));
    }

    private sealed record TicksAnswer(int Ticks);
}
