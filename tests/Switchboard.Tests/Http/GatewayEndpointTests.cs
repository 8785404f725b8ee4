using System.Net;
using System.Text.Json.Nodes;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Http;

/// <summary>The HTTP gateway's JSON endpoints against a real broker, with BusClients as the other side:
/// <c>/senders</c>, <c>/publish</c>, <c>/request</c>, <c>/gather</c>, <c>/healthz</c>, <c>/metrics</c>, and authentication.</summary>
public sealed class GatewayEndpointTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_http_sender_publishes_to_bus_clients_with_events_and_retained_values()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await using var client = await gateway.ConnectClientAsync(Ct);
        await using var presence = await client.ListenAsync(null, "#connect", cancellationToken: Ct);
        var created = await gateway.OkAsync("/senders", """{"name":"h1","events":["tick","#temp","#alert"]}""", Ct);
        Assert.Equal("""{"name":"h1","events":["tick","#temp","#alert"]}""", created!.ToJsonString());
        Assert.Equal("h1", (await presence.NextAsync()).As<JsonObject>()!["name"]!.GetValue<string>());

        await using var ticks = await client.ListenAsync("h1", "tick", cancellationToken: Ct);
        await using var channels = await client.ListenAsync(null, "#>", cancellationToken: Ct);
        Assert.Equal("""{"ok":true}""", (await gateway.OkAsync("/publish", """{"sender":"h1","event":"tick","data":5}""", Ct))!.ToJsonString());
        var tick = await ticks.NextAsync();
        Assert.Equal(("h1", "tick", 5), (tick.Sender, tick.Event, tick.As<int>()));

        await gateway.OkAsync("/publish", """{"sender":"h1","events":["#temp","#alert"],"data":{"c":21.5}}""", Ct);
        Assert.Equal("#temp", (await channels.NextAsync()).Event);
        var alert = await channels.NextAsync();
        Assert.Equal("#alert", alert.Event);
        Assert.Equal("""{"c":21.5}""", alert.Data.ToString());

        await gateway.OkAsync("/publish", """{"sender":"h1","event":"#temp","data":"kept","retain":true}""", Ct);
        await using var late = await client.ListenAsync("h1", "#temp", cancellationToken: Ct);
        Assert.Equal("kept", (await late.NextAsync()).As<string>());
        gateway.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Publish_is_only_for_senders_registered_over_http_and_for_their_declared_events()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await using var client = await gateway.ConnectClientAsync(Ct);
        await using var theirs = await client.AddSenderAsync("theirs", ["tick"], cancellationToken: Ct);
        Assert.Contains("registered by another client", HttpGatewayHarness.AssertError(await gateway.PostAsync("/publish", """{"sender":"theirs","event":"tick","data":1}""", Ct), 403, "forbidden_sender"));
        Assert.Contains("POST /senders", HttpGatewayHarness.AssertError(await gateway.PostAsync("/publish", """{"sender":"nobody","event":"tick"}""", Ct), 403, "forbidden_sender"));
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/publish", """{"sender":"bad name","event":"tick"}""", Ct), 400, ErrorCodes.InvalidName);

        await gateway.OkAsync("/senders", """{"name":"h1","events":["tick"]}""", Ct);
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/publish", """{"sender":"h1","event":"tock"}""", Ct), 400, ErrorCodes.UndeclaredEvent);
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/senders", """{"name":"h1","events":["x"]}""", Ct), 409, ErrorCodes.SenderExists);
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/senders", """{"name":"theirs","events":["x"]}""", Ct), 409, ErrorCodes.SenderExists);
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/senders", """{"name":"h2","events":["#connect"]}""", Ct), 400, ErrorCodes.ReservedName);
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/senders", """{"name":"h2","events":["x"],"requests":["get"]}""", Ct), 400, "invalid_field");
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/publish", """{"sender":"h1","event":"tick","events":["tick"]}""", Ct), 400, "invalid_field");
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/publish", """{"sender":"h1","events":[]}""", Ct), 400, "invalid_field");

        // DELETE removes it (presence says so), and it can no longer publish; others' senders cannot be deleted.
        await using var left = await client.ListenAsync(null, "#disconnect", cancellationToken: Ct);
        using (var delete = await gateway.Http.DeleteAsync("/senders/h1", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        Assert.Equal("h1", (await left.NextAsync()).As<JsonObject>()!["name"]!.GetValue<string>());
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/publish", """{"sender":"h1","event":"tick"}""", Ct), 403, "forbidden_sender");
        HttpGatewayHarness.AssertError(await gateway.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/senders/theirs"), Ct), 403, "forbidden_sender");
        HttpGatewayHarness.AssertError(await gateway.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/senders/h1"), Ct), 403, "forbidden_sender");
        Assert.Contains(await client.GetSendersAsync(Ct), s => s.Name == "theirs");
        gateway.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Http_senders_are_capped()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(http: new HttpGatewayOptions { MaxSenders = 2 }, cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"a","events":["x"]}""", Ct);
        await gateway.OkAsync("/senders", """{"name":"b","events":["x"]}""", Ct);
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/senders", """{"name":"c","events":["x"]}""", Ct), 429, "too_many");
        (await gateway.Http.DeleteAsync("/senders/a", Ct)).Dispose();
        await gateway.OkAsync("/senders", """{"name":"c","events":["x"]}""", Ct);
    }

    [Fact]
    public async Task A_traceparent_sent_with_an_http_publish_or_request_reaches_the_listener_and_the_handler_in_the_same_trace()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await using var client = await gateway.ConnectClientAsync(Ct);
        var handled = new TaskCompletionSource<MessageHeaders>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var echo = await client.AddSenderAsync("echo", [], new Dictionary<string, RequestHandler>
        {
            ["echo"] = (request, _) =>
            {
                handled.TrySetResult(request.Headers);
                return ValueTask.FromResult(Payload.Utf8("ok"));
            },
        }, cancellationToken: Ct);
        await using var listener = await client.ListenAsync("h1", "tick", cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"h1","events":["tick"]}""", Ct);
        const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";

        using (var publish = new HttpRequestMessage(HttpMethod.Post, "/publish") { Content = Json("""{"sender":"h1","event":"tick"}""") })
        {
            publish.Headers.Add("traceparent", $"00-{TraceId}-00f067aa0ba902b7-01");
            publish.Headers.Add("tracestate", "vendor=1");
            Assert.Equal(200, (await gateway.SendAsync(publish, Ct)).Status);
        }

        var heard = await listener.NextAsync();
        Assert.Contains(TraceId, heard.Headers["traceparent"], StringComparison.Ordinal);
        Assert.Equal("vendor=1", heard.Headers["tracestate"]);

        using (var ask = new HttpRequestMessage(HttpMethod.Post, "/request") { Content = Json("""{"sender":"echo","request":"echo"}""") })
        {
            ask.Headers.Add("traceparent", $"00-{TraceId}-00f067aa0ba902b7-01");
            Assert.Equal(200, (await gateway.SendAsync(ask, Ct)).Status);
        }

        Assert.Contains(TraceId, (await handled.Task.WaitAsync(Wait.Timeout, Ct))["traceparent"], StringComparison.Ordinal);

        // A malformed one is ignored, not an error.
        using var bad = new HttpRequestMessage(HttpMethod.Post, "/publish") { Content = Json("""{"sender":"h1","event":"tick"}""") };
        bad.Headers.TryAddWithoutValidation("traceparent", "not-a-trace");
        Assert.Equal(200, (await gateway.SendAsync(bad, Ct)).Status);
        Assert.Null((await listener.NextAsync()).Headers["traceparent"]);

        static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");
    }

    [Fact]
    public async Task A_request_larger_than_the_handler_client_accepts_is_a_413_message_too_large()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(gateway.Host.TcpAddress!, new BusClientOptions { MaxFrameSize = 64 * 1024 }, Ct);
        await using var echo = await client.AddSenderAsync("echo", [], new Dictionary<string, RequestHandler>
        {
            ["echo"] = (request, _) => ValueTask.FromResult(Payload.Utf8("got it")),
        }, cancellationToken: Ct);

        var big = "{\"sender\":\"echo\",\"request\":\"echo\",\"data\":\"" + new string('x', 100_000) + "\"}";
        var message = HttpGatewayHarness.AssertError(await gateway.PostAsync("/request", big, Ct), 413, ErrorCodes.MessageTooLarge);
        Assert.Contains("larger than the frames", message, StringComparison.Ordinal);

        // The handler's client is still there for requests it can take.
        Assert.Equal("""{"data":"got it"}""", (await gateway.OkAsync("/request", """{"sender":"echo","request":"echo","data":"small"}""", Ct))!.ToJsonString());
    }

    [Fact]
    public async Task Requests_answer_with_data_or_a_distinct_error_status()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await using var client = await gateway.ConnectClientAsync(Ct);
        var never = new TaskCompletionSource<Payload>();
        await using var timer = await client.AddSenderAsync("timer", ["tick"], new Dictionary<string, RequestHandler>
        {
            ["get_ticks"] = (request, _) => ValueTask.FromResult(Payload.Json(new { ticks = 42, echo = request.Data.As<JsonNode>() })),
            ["fail"] = (_, _) => throw new InvalidOperationException("the timer is broken"),
            ["slow"] = (_, ct) => new ValueTask<Payload>(never.Task.WaitAsync(ct)),
            ["text"] = (_, _) => ValueTask.FromResult(Payload.Utf8("plain")),
        }, cancellationToken: Ct);

        var ok = await gateway.PostAsync("/request", """{"sender":"timer","request":"get_ticks","data":{"n":1},"timeout_ms":5000}""", Ct);
        Assert.Equal(200, ok.Status);
        Assert.Equal("""{"data":{"ticks":42,"echo":{"n":1}}}""", ok.Body!.ToJsonString());
        Assert.Equal("""{"data":"plain"}""", (await gateway.OkAsync("/request", """{"sender":"timer","request":"text"}""", Ct))!.ToJsonString());

        HttpGatewayHarness.AssertError(await gateway.PostAsync("/request", """{"sender":"nobody","request":"get_ticks"}""", Ct), 404, ErrorCodes.NoSender);
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/request", """{"sender":"timer","request":"unknown"}""", Ct), 404, ErrorCodes.NoHandler);
        Assert.Contains("the timer is broken", HttpGatewayHarness.AssertError(await gateway.PostAsync("/request", """{"sender":"timer","request":"fail"}""", Ct), 502, ErrorCodes.HandlerError));
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/request", """{"sender":"timer","request":"slow","timeout_ms":100}""", Ct), 504, ErrorCodes.Timeout);
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/request", """{"sender":"timer","request":"get_ticks","timeout_ms":0}""", Ct), 400, "invalid_field");
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/request", """{"sender":"timer","request":"get_ticks","timeout_ms":"1s"}""", Ct), 400, "invalid_field");
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/request", """{"sender":"timer","request":"#bad"}""", Ct), 400, ErrorCodes.InvalidName);

        var metrics = await gateway.MetricsAsync(Ct);
        Assert.Equal(2, HttpGatewayHarness.Metric(metrics, "switchboard_http_bus_requests_total{outcome=\"ok\"}"));
        Assert.Equal(1, HttpGatewayHarness.Metric(metrics, "switchboard_http_bus_requests_total{outcome=\"timeout\"}"));
        Assert.Equal(1, HttpGatewayHarness.Metric(metrics, "switchboard_http_bus_requests_total{outcome=\"handler_error\"}"));
        Assert.Equal(9, HttpGatewayHarness.Metric(metrics, "switchboard_http_bus_request_duration_seconds_count"));
        Assert.Equal(9, HttpGatewayHarness.Metric(metrics, "switchboard_http_bus_request_duration_seconds_bucket{le=\"+Inf\"}"));
        Assert.True(HttpGatewayHarness.Metric(metrics, "switchboard_http_bus_request_duration_seconds_bucket{le=\"0.05\"}") < 9, "the timed-out request is above 50 ms");
        Assert.True(HttpGatewayHarness.Metric(metrics, "switchboard_http_bus_request_duration_seconds_sum") >= 0.1);
    }

    [Fact]
    public async Task A_gather_reports_results_who_answered_and_who_failed()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await using var client = await gateway.ConnectClientAsync(Ct);
        await using var p1 = await client.AddProducerAsync("prices", (request, _) => ValueTask.FromResult(Payload.Json(new { p = 10, q = request.Data.As<int>() })), new ProducerOptions { Name = "p1" }, Ct);
        await using var p2 = await client.AddProducerAsync("prices", (_, _) => throw new InvalidOperationException("no stock"), new ProducerOptions { Name = "p2" }, Ct);

        // Both answer, so the gather ends then, long before its generous ttl.
        var answer = await gateway.OkAsync("/gather", """{"topic":"prices","data":3,"ttl_ms":30000}""", Ct);
        Assert.True(answer!["results"]!.ToJsonString() == """[{"producer":"p1","data":{"p":10,"q":3}}]""", answer.ToJsonString());
        Assert.Equal("""["p1"]""", answer["answered"]!.ToJsonString());
        Assert.Equal("[]", answer["missing"]!.ToJsonString());
        Assert.Contains("no stock", answer["failed"]!["p2"]!.GetValue<string>());
        Assert.Equal(0, answer["late"]!.GetValue<int>());

        var nobody = await gateway.OkAsync("/gather", """{"topic":"nothing.here","ttl_ms":50}""", Ct);
        Assert.Equal("""{"results":[],"answered":[],"missing":[],"failed":{},"late":0}""", nobody!.ToJsonString());
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/gather", """{"topic":"#no"}""", Ct), 400, ErrorCodes.InvalidName);
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/gather", """{"data":1}""", Ct), 400, "invalid_field");
        Assert.Equal(2, HttpGatewayHarness.Metric(await gateway.MetricsAsync(Ct), "switchboard_http_gather_duration_seconds_count"));
    }

    [Fact]
    public async Task A_gather_names_the_producers_that_did_not_answer_within_the_ttl()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await using var client = await gateway.ConnectClientAsync(Ct);
        var never = new TaskCompletionSource<Payload>();
        await using var slow = await client.AddProducerAsync("prices", (_, ct) => new ValueTask<Payload>(never.Task.WaitAsync(ct)), new ProducerOptions { Name = "slow" }, Ct);
        var answer = await gateway.OkAsync("/gather", """{"topic":"prices","ttl_ms":200}""", Ct);
        Assert.Equal("""{"results":[],"answered":[],"missing":["slow"],"failed":{},"late":0}""", answer!.ToJsonString());
    }

    [Fact]
    public async Task Senders_lists_everyone_online_and_marks_the_http_ones()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await using var client = await gateway.ConnectClientAsync(Ct);
        await using var timer = await client.AddSenderAsync("timer", ["tick", "#temp"], new Dictionary<string, RequestHandler> { ["get"] = (_, _) => default }, cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"h1","events":["e"]}""", Ct);
        var (status, body) = await gateway.GetJsonAsync("/senders", Ct);
        Assert.Equal(200, status);
        var list = body!.AsArray();
        Assert.Equal(["h1", "switchboard", "timer"], list.Select(s => s!["name"]!.GetValue<string>()));
        Assert.Equal("""{"name":"timer","events":["tick","#temp"],"requests":["get"],"default_handler":false,"http":false}""", list[2]!.ToJsonString());
        Assert.True(list[0]!["http"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Healthz_says_ok()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        Assert.Equal("ok", await gateway.Http.GetStringAsync("/healthz", Ct));
    }

    [Fact]
    public async Task Metrics_are_prometheus_text_with_help_type_and_values_that_move()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        var before = await gateway.MetricsAsync(Ct);
        foreach (var family in new[]
        {
            "switchboard_connections gauge", "switchboard_senders gauge", "switchboard_listeners gauge", "switchboard_http_sse_clients gauge",
            "switchboard_dropped_messages_total counter", "switchboard_slow_consumers_total counter", "switchboard_http_messages_in_total counter",
            "switchboard_http_messages_out_total counter", "switchboard_http_bus_request_duration_seconds histogram", "switchboard_http_sse_dropped_total counter",
        })
        {
            Assert.Contains("# TYPE " + family + "\n", before);
            Assert.Contains("# HELP " + family.Split(' ')[0] + " ", before);
        }

        foreach (var reason in new[] { "listener_overflow", "late_result", "offline", "corrupt_frame" })
        {
            Assert.Equal(0, HttpGatewayHarness.Metric(before, $"switchboard_dropped_messages_total{{reason=\"{reason}\"}}"));
        }

        Assert.Equal(0, HttpGatewayHarness.Metric(before, "switchboard_connections"));
        Assert.Equal(1, HttpGatewayHarness.Metric(before, "switchboard_senders"));
        Assert.Equal(0, HttpGatewayHarness.Metric(before, "switchboard_http_messages_in_total"));

        await using var client = await gateway.ConnectClientAsync(Ct);
        await using var listener = await client.ListenAsync(null, "#t", cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"h1","events":["#t"]}""", Ct);
        await using var events = await gateway.OpenEventsAsync("?event=%23t", cancellationToken: Ct);
        await gateway.OkAsync("/publish", """{"sender":"h1","event":"#t","data":1}""", Ct);
        await gateway.OkAsync("/publish", """{"sender":"h1","event":"#t","data":2}""", Ct);
        await events.NextEventAsync();
        await events.NextEventAsync();
        await listener.NextAsync();

        var after = await gateway.MetricsAsync(Ct);
        Assert.Equal(1, HttpGatewayHarness.Metric(after, "switchboard_connections"));
        Assert.Equal(2, HttpGatewayHarness.Metric(after, "switchboard_senders"));
        Assert.Equal(1, HttpGatewayHarness.Metric(after, "switchboard_http_senders"));
        Assert.Equal(2, HttpGatewayHarness.Metric(after, "switchboard_listeners")); // the client's, and the SSE stream's
        Assert.Equal(1, HttpGatewayHarness.Metric(after, "switchboard_http_sse_clients"));
        Assert.Equal(1, HttpGatewayHarness.Metric(after, "switchboard_http_sse_streams"));
        Assert.Equal(2, HttpGatewayHarness.Metric(after, "switchboard_http_messages_in_total"));
        Assert.Equal(2, HttpGatewayHarness.Metric(after, "switchboard_http_messages_out_total"));
        Assert.Equal(2, HttpGatewayHarness.Metric(after, "switchboard_http_responses_total{endpoint=\"/publish\",code=\"200\"}"));
        Assert.Equal(1, HttpGatewayHarness.Metric(after, "switchboard_http_responses_total{endpoint=\"/senders\",code=\"201\"}"));
        Assert.Matches("switchboard_info\\{server=\"switchboard\"\\} 1\n", after);
    }

    [Fact]
    public async Task The_gateway_measures_with_System_Diagnostics_Metrics_too()
    {
        // Other brokers run in this process meanwhile (tests in parallel): the listener takes only this one's meter,
        // found by its scope, so the counts are exact.
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        using var meters = new System.Diagnostics.Metrics.MeterListener();
        long published = 0;
        var durations = 0;
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Switchboard.Server" && ReferenceEquals(instrument.Meter.Scope, gateway.Host.Broker))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "switchboard.http.messages.in")
            {
                Interlocked.Add(ref published, value);
            }
        });
        meters.SetMeasurementEventCallback<double>((instrument, _, _, _) =>
        {
            if (instrument.Name == "switchboard.http.request.duration")
            {
                Interlocked.Increment(ref durations);
            }
        });
        meters.Start();

        await gateway.OkAsync("/senders", """{"name":"h1","events":["#a","#b"]}""", Ct);
        await gateway.OkAsync("/publish", """{"sender":"h1","events":["#a","#b"]}""", Ct);
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/request", """{"sender":"nobody","request":"r"}""", Ct), 404, ErrorCodes.NoSender);
        Assert.Equal(2, Interlocked.Read(ref published));
        Assert.Equal(1, Volatile.Read(ref durations));
    }

    [Fact]
    public async Task Metrics_count_drops_of_a_slow_listener()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        var bus = gateway.Host.Broker.Bus;
        await using var slow = await bus.ListenAsync(null, "#t", new ListenerOptions { Capacity = 1, Overflow = OverflowPolicy.DropNewest }, Ct);
        await gateway.OkAsync("/senders", """{"name":"h1","events":["#t"]}""", Ct);
        for (var i = 0; i < 5; i++)
        {
            await gateway.OkAsync("/publish", """{"sender":"h1","event":"#t"}""", Ct);
        }

        Assert.Equal(4, HttpGatewayHarness.Metric(await gateway.MetricsAsync(Ct), "switchboard_dropped_messages_total{reason=\"listener_overflow\"}"));
    }

    [Fact]
    public async Task With_authentication_every_call_but_health_metrics_and_the_page_needs_credentials_and_senders_belong_to_their_caller()
    {
        var options = new BrokerOptions { Authenticate = (client, token) => token is "alice-token" or "bob-token" ? null : "unknown token" };
        await using var gateway = await HttpGatewayHarness.StartAsync(options, cancellationToken: Ct);
        HttpGatewayHarness.AssertError(await gateway.GetJsonAsync("/senders", Ct), 401, "unauthorized");
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/senders", """{"name":"a1","events":["x"]}""", Ct), 401, "unauthorized");
        HttpGatewayHarness.AssertError(await gateway.GetJsonAsync("/events?event=%23x", Ct), 401, "unauthorized");
        Assert.Equal("ok", await gateway.Http.GetStringAsync("/healthz", Ct));
        await gateway.MetricsAsync(Ct);

        var create = new HttpRequestMessage(HttpMethod.Post, "/senders") { Content = new StringContent("""{"name":"a1","events":["x"]}""", System.Text.Encoding.UTF8, "application/json") };
        create.Headers.Authorization = HttpGatewayHarness.Bearer("alice-token");
        Assert.Equal(201, (await gateway.SendAsync(create, Ct)).Status);

        var byBob = new HttpRequestMessage(HttpMethod.Post, "/publish") { Content = new StringContent("""{"sender":"a1","event":"x"}""", System.Text.Encoding.UTF8, "application/json") };
        byBob.Headers.Authorization = HttpGatewayHarness.Bearer("bob-token");
        Assert.Contains("another HTTP client", HttpGatewayHarness.AssertError(await gateway.SendAsync(byBob, Ct), 403, "forbidden_sender"));

        var byAlice = new HttpRequestMessage(HttpMethod.Post, "/publish") { Content = new StringContent("""{"sender":"a1","event":"x"}""", System.Text.Encoding.UTF8, "application/json") };
        byAlice.Headers.Authorization = HttpGatewayHarness.Bearer("alice-token");
        Assert.Equal(200, (await gateway.SendAsync(byAlice, Ct)).Status);

        await using var events = await SseReader.OpenAsync(gateway.Http, "/events?event=%23x&token=bob-token", cancellationToken: Ct);
        Assert.NotNull((await events.NextAsync()).Comment);
    }
}
