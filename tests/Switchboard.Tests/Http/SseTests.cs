using System.Text.Json.Nodes;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Http;

/// <summary><c>GET /events</c> against a real broker over real HTTP: the delivery format, resume with
/// <c>Last-Event-ID</c>, gaps reported, keep-alives, refused queries.</summary>
public sealed class SseTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_stream_starts_with_a_comment_and_retry_then_delivers_id_event_and_data_as_json()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await using var client = await gateway.ConnectClientAsync(Ct);
        await using var s1 = await client.AddSenderAsync("s1", ["tick"], cancellationToken: Ct);
        await using var events = await gateway.OpenEventsAsync("?sender=s1&event=tick", cancellationToken: Ct);
        Assert.Equal("text/event-stream", events.Response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no-cache", events.Response.Headers.CacheControl?.ToString() ?? string.Empty);

        var first = await events.NextAsync();
        Assert.NotNull(first.Comment);
        Assert.Contains("sender=s1 event=tick", first.Comment);
        Assert.Equal(3000, (await events.NextAsync()).Retry);

        await s1.TriggerAsync("tick", Payload.Json(5), cancellationToken: Ct);
        await s1.TriggerAsync("tick", Payload.Utf8("not json"), cancellationToken: Ct);
        await s1.TriggerAsync("tick", Payload.Utf8("{\n  \"a\": [1, 2]\n}"), cancellationToken: Ct);
        await s1.TriggerAsync("tick", cancellationToken: Ct);

        var e1 = await events.NextEventAsync();
        Assert.Equal("tick", e1.Event);
        Assert.Equal("""{"sender":"s1","event":"tick","data":5}""", e1.Data);
        var e2 = await events.NextEventAsync();
        Assert.Equal(e1.Seq + 1, e2.Seq);
        Assert.Equal("""{"sender":"s1","event":"tick","data":"not json"}""", e2.Data);
        var e3 = await events.NextEventAsync();
        Assert.Equal("""{"sender":"s1","event":"tick","data":{"a":[1,2]}}""", e3.Data); // indented JSON arrives compact, on one data line
        var e4 = await events.NextEventAsync();
        Assert.Equal("""{"sender":"s1","event":"tick","data":null}""", e4.Data);
        Assert.Equal(e1.Seq + 3, e4.Seq);
        gateway.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Channel_events_from_every_sender_and_the_whole_bus_can_be_streamed()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await using var client = await gateway.ConnectClientAsync(Ct);
        await using var a = await client.AddSenderAsync("a", ["#temp", "other"], cancellationToken: Ct);
        await using var b = await client.AddSenderAsync("b", ["#temp"], cancellationToken: Ct);
        await using var channel = await gateway.OpenEventsAsync("?event=%23temp", cancellationToken: Ct);
        await using var everything = await gateway.OpenEventsAsync(string.Empty, cancellationToken: Ct);
        await using var fromA = await gateway.OpenEventsAsync("?sender=a", cancellationToken: Ct);

        await a.TriggerAsync("#temp", Payload.Json(1), cancellationToken: Ct);
        await b.TriggerAsync("#temp", Payload.Json(2), cancellationToken: Ct);
        await a.TriggerAsync("other", Payload.Json(3), cancellationToken: Ct);

        Assert.Equal("""{"sender":"a","event":"#temp","data":1}""", (await channel.NextEventAsync()).Data);
        Assert.Equal("""{"sender":"b","event":"#temp","data":2}""", (await channel.NextEventAsync()).Data);
        Assert.Equal("#temp", (await fromA.NextEventAsync()).Event);
        Assert.Equal("other", (await fromA.NextEventAsync()).Event);
        var seen = new List<string>();
        while (seen.Count < 3)
        {
            var e = await everything.NextEventAsync();
            seen.Add($"{e.Json["sender"]}/{e.Event}");
        }

        Assert.Equal(["a/#temp", "b/#temp", "a/other"], seen);
    }

    [Fact]
    public async Task A_browser_that_reconnects_with_Last_Event_ID_gets_exactly_what_was_published_while_it_was_away_in_order()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"s1","events":["tick"]}""", Ct);
        string lastId;
        await using (var first = await gateway.OpenEventsAsync("?sender=s1&event=tick", cancellationToken: Ct))
        {
            for (var i = 1; i <= 3; i++)
            {
                await gateway.OkAsync("/publish", $$"""{"sender":"s1","event":"tick","data":{{i}}}""", Ct);
            }

            for (var i = 1; i <= 3; i++)
            {
                Assert.Equal(i, (await first.NextEventAsync()).Json["data"]!.GetValue<int>());
            }

            lastId = first.LastEventId!;
        }

        // Away: 10 events are published (the stream keeps listening and recording for its grace period).
        for (var i = 4; i <= 13; i++)
        {
            await gateway.OkAsync("/publish", $$"""{"sender":"s1","event":"tick","data":{{i}}}""", Ct);
        }

        await using var again = await gateway.OpenEventsAsync("?sender=s1&event=tick", lastEventId: lastId, cancellationToken: Ct);
        var expectedSeq = long.Parse(lastId, System.Globalization.CultureInfo.InvariantCulture) + 1;
        for (var i = 4; i <= 13; i++)
        {
            var e = await again.NextEventAsync();
            Assert.Equal("tick", e.Event);
            Assert.Equal(expectedSeq++, e.Seq);
            Assert.Equal($$"""{"sender":"s1","event":"tick","data":{{i}}}""", e.Data);
        }

        // Exactly those 10: the next thing on the stream is what is published now.
        await gateway.OkAsync("/publish", """{"sender":"s1","event":"tick","data":"marker"}""", Ct);
        var marker = await again.NextEventAsync();
        Assert.Equal("marker", marker.Json["data"]!.GetValue<string>());
        Assert.Equal(expectedSeq, marker.Seq);
        gateway.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task The_lastEventId_query_resumes_too_and_a_client_with_nothing_missed_just_goes_live()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"s1","events":["#t"]}""", Ct);
        string lastId;
        await using (var first = await gateway.OpenEventsAsync("?event=%23t", cancellationToken: Ct))
        {
            await gateway.OkAsync("/publish", """{"sender":"s1","event":"#t","data":1}""", Ct);
            await first.NextEventAsync();
            lastId = first.LastEventId!;
        }

        await gateway.OkAsync("/publish", """{"sender":"s1","event":"#t","data":2}""", Ct);
        await using (var byQuery = await gateway.OpenEventsAsync($"?event=%23t&lastEventId={lastId}", cancellationToken: Ct))
        {
            Assert.Equal(2, (await byQuery.NextEventAsync()).Json["data"]!.GetValue<int>());
            lastId = byQuery.LastEventId!;
        }

        await using var upToDate = await gateway.OpenEventsAsync("?event=%23t", lastEventId: lastId, cancellationToken: Ct);
        await gateway.OkAsync("/publish", """{"sender":"s1","event":"#t","data":3}""", Ct);
        var next = await upToDate.NextEventAsync();
        Assert.Equal(3, next.Json["data"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_resume_from_beyond_the_history_is_reported_as_an_sb_gap_before_the_rest()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(http: new HttpGatewayOptions { SseHistory = 5 }, cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"s1","events":["tick"]}""", Ct);
        long lastSeq;
        await using (var first = await gateway.OpenEventsAsync("?sender=s1&event=tick", cancellationToken: Ct))
        {
            await gateway.OkAsync("/publish", """{"sender":"s1","event":"tick","data":0}""", Ct);
            lastSeq = (await first.NextEventAsync()).Seq;
        }

        await using (var watcher = await gateway.OpenEventsAsync("?sender=s1&event=tick", cancellationToken: Ct))
        {
            for (var i = 1; i <= 12; i++)
            {
                await gateway.OkAsync("/publish", $$"""{"sender":"s1","event":"tick","data":{{i}}}""", Ct);
            }

            // A publish is accepted before the stream's pump numbers it: a live client of the same stream seeing the
            // 12th message shows the history holds it, so the resume below meets exactly the history of 8..12.
            while ((await watcher.NextEventAsync()).Json["data"]?.GetValue<int>() != 12)
            {
                // earlier messages, or an sb-gap if the watcher itself fell behind the 5-message history
            }
        }

        // Counted after the watcher: its own overruns, if it fell behind, are in by now.
        var before = HttpGatewayHarness.Metric(await gateway.MetricsAsync(Ct), "switchboard_http_sse_dropped_total{reason=\"history_overrun\"}");
        await using var again = await gateway.OpenEventsAsync("?sender=s1&event=tick", lastEventId: lastSeq.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken: Ct);
        var gap = await again.NextEventAsync();
        Assert.Equal("sb-gap", gap.Event);
        Assert.Null(gap.Id); // the client's last id stays the last message it really got
        Assert.Equal(lastSeq + 1, gap.Json["missed_from"]!.GetValue<long>());
        Assert.Equal(lastSeq + 7, gap.Json["missed_to"]!.GetValue<long>());
        Assert.Equal(7, gap.Json["count"]!.GetValue<long>());
        Assert.Equal("history_overrun", gap.Json["reason"]!.GetValue<string>());
        for (var i = 8; i <= 12; i++)
        {
            var e = await again.NextEventAsync();
            Assert.Equal(lastSeq + i, e.Seq);
            Assert.Equal(i, e.Json["data"]!.GetValue<int>());
        }

        var after = HttpGatewayHarness.Metric(await gateway.MetricsAsync(Ct), "switchboard_http_sse_dropped_total{reason=\"history_overrun\"}");
        Assert.Equal(before + 7, after);
    }

    [Fact]
    public async Task An_id_the_stream_never_gave_is_reported_as_unknown_then_the_stream_goes_live()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"s1","events":["tick"]}""", Ct);
        await using (var opener = await gateway.OpenEventsAsync("?sender=s1&event=tick", cancellationToken: Ct))
        {
            await gateway.OkAsync("/publish", """{"sender":"s1","event":"tick","data":0}""", Ct);
            await opener.NextEventAsync();
        }

        await using var future = await gateway.OpenEventsAsync("?sender=s1&event=tick", lastEventId: long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken: Ct);
        var gap = await future.NextEventAsync();
        Assert.Equal("sb-gap", gap.Event);
        Assert.Equal("unknown_id", gap.Json["reason"]!.GetValue<string>());
        Assert.Null(gap.Json["missed_from"]);
        Assert.Null(gap.Json["missed_to"]);

        await using var garbage = await gateway.OpenEventsAsync("?sender=s1&event=tick", lastEventId: "not-a-number", cancellationToken: Ct);
        var gap2 = await garbage.NextEventAsync();
        Assert.Equal("sb-gap", gap2.Event);
        Assert.Equal("unknown_id", gap2.Json["reason"]!.GetValue<string>());

        await gateway.OkAsync("/publish", """{"sender":"s1","event":"tick","data":1}""", Ct);
        Assert.Equal(1, (await future.NextEventAsync()).Json["data"]!.GetValue<int>());
        Assert.Equal(1, (await garbage.NextEventAsync()).Json["data"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_resume_into_a_stream_opened_anew_reports_what_was_not_recorded()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(http: new HttpGatewayOptions { SseStreamGrace = TimeSpan.Zero }, cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"s1","events":["tick"]}""", Ct);
        string lastId;
        await using (var first = await gateway.OpenEventsAsync("?sender=s1&event=tick", cancellationToken: Ct))
        {
            await gateway.OkAsync("/publish", """{"sender":"s1","event":"tick","data":0}""", Ct);
            await first.NextEventAsync();
            lastId = first.LastEventId!;
        }

        // No grace: the stream is retired once its last client left, and what is published then is not recorded.
        await Wait.UntilAsync(() => gateway.Host.Broker.Router.Listeners.Count == 0, "the stream's listener is gone");
        await gateway.OkAsync("/publish", """{"sender":"s1","event":"tick","data":1}""", Ct);
        await using var again = await gateway.OpenEventsAsync("?sender=s1&event=tick", lastEventId: lastId, cancellationToken: Ct);
        var gap = await again.NextEventAsync();
        Assert.Equal("sb-gap", gap.Event);
        Assert.Equal("not_recorded", gap.Json["reason"]!.GetValue<string>());
        Assert.Equal(long.Parse(lastId, System.Globalization.CultureInfo.InvariantCulture) + 1, gap.Json["missed_from"]!.GetValue<long>());
        await gateway.OkAsync("/publish", """{"sender":"s1","event":"tick","data":2}""", Ct);
        var next = await again.NextEventAsync();
        Assert.Equal(2, next.Json["data"]!.GetValue<int>());
        Assert.True(next.Seq > long.Parse(lastId, System.Globalization.CultureInfo.InvariantCulture), "a new stream's ids stay above the old one's");
    }

    [Fact]
    public async Task A_quiet_stream_gets_keep_alive_comments()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(http: new HttpGatewayOptions { SseKeepAlive = TimeSpan.FromMilliseconds(100), SseRetry = TimeSpan.FromMilliseconds(1500) }, cancellationToken: Ct);
        await using var events = await gateway.OpenEventsAsync("?event=%23quiet", cancellationToken: Ct);
        Assert.NotNull((await events.NextAsync()).Comment);
        Assert.Equal(1500, (await events.NextAsync()).Retry);
        Assert.Equal("keep-alive", (await events.NextAsync()).Comment);
        Assert.Equal("keep-alive", (await events.NextAsync()).Comment);
    }

    [Fact]
    public async Task A_query_the_bus_refuses_is_a_400_with_the_error_object()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        var targeted = await gateway.GetJsonAsync("/events?event=tick", Ct);
        Assert.Contains("#tick", HttpGatewayHarness.AssertError(targeted, 400, ErrorCodes.TargetedNeedsSender));
        HttpGatewayHarness.AssertError(await gateway.GetJsonAsync("/events?sender=bad%20name", Ct), 400, ErrorCodes.InvalidName);
        HttpGatewayHarness.AssertError(await gateway.GetJsonAsync("/events?sender=s1&event=a..b", Ct), 400, ErrorCodes.InvalidName);
        HttpGatewayHarness.AssertError(await gateway.GetJsonAsync("/events?sender=a&sender=b", Ct), 400, "invalid_field");
        Assert.Equal(0, gateway.Host.Broker.Router.Listeners.Count);
        gateway.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Streams_are_bounded_and_an_idle_one_makes_room_for_a_new_one()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(http: new HttpGatewayOptions { MaxSseStreams = 1 }, cancellationToken: Ct);
        await using (var a = await gateway.OpenEventsAsync("?event=%23a", cancellationToken: Ct))
        {
            HttpGatewayHarness.AssertError(await gateway.GetJsonAsync("/events?event=%23b", Ct), 503, "too_many");
        }

        // Once #a has no client, it is the idle stream that gives way.
        await gateway.UntilMetricAsync("switchboard_http_sse_clients", v => v == 0, "the broker saw the client of #a leave");
        Assert.Equal(1, gateway.Host.Broker.Router.Listeners.Count);
        await using var b = await gateway.OpenEventsAsync("?event=%23b", cancellationToken: Ct);
        await Wait.UntilAsync(() => gateway.Host.Broker.Router.Listeners.Count == 1, "the evicted stream's listener is gone");
    }

    [Fact]
    public async Task One_address_cannot_hold_more_than_its_share_of_sse_connections_and_a_freed_slot_is_reusable()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(http: new HttpGatewayOptions { MaxSseClientsPerAddress = 2 }, cancellationToken: Ct);
        await using var first = await gateway.OpenEventsAsync("?event=%23a", cancellationToken: Ct);
        await using (var second = await gateway.OpenEventsAsync("?event=%23a", cancellationToken: Ct))
        {
            var refused = await gateway.GetJsonAsync("/events?event=%23a", Ct);
            HttpGatewayHarness.AssertError(refused, 429, "too_many");
            Assert.Contains("MaxSseClientsPerAddress", refused.Body!.ToJsonString(), StringComparison.Ordinal);
            HttpGatewayHarness.AssertError(await gateway.GetJsonAsync("/dashboard/stream", Ct), 429, "too_many");
        }

        await gateway.UntilMetricAsync("switchboard_http_sse_clients", v => v == 1, "the broker saw the second client leave");
        await using var again = await gateway.OpenEventsAsync("?event=%23a", cancellationToken: Ct);
    }

    [Fact]
    public async Task A_stream_listener_that_overflows_tells_its_clients_with_sb_dropped()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(http: new HttpGatewayOptions { SseListenerCapacity = 1, SseHistory = 5000, SseHistoryBytes = 16 << 20 }, cancellationToken: Ct);
        await using var client = await gateway.ConnectClientAsync(Ct);
        await using var s1 = await client.AddSenderAsync("s1", ["tick"], cancellationToken: Ct);
        await using var events = await gateway.OpenEventsAsync("?sender=s1&event=tick", cancellationToken: Ct);
        const int Count = 2000;
        for (var i = 0; i < Count; i++)
        {
            await s1.TriggerAsync("tick", Payload.Json(i), cancellationToken: Ct);
        }

        await client.FlushAsync(Ct);
        var received = 0;
        long dropped = 0;
        long? previous = null;
        while (received + dropped < Count)
        {
            var e = await events.NextEventAsync();
            if (previous is { } p)
            {
                Assert.Equal(p + 1, e.Seq); // ids stay consecutive: the notice takes one
            }

            previous = e.Seq;
            if (e.Event == "sb-dropped")
            {
                dropped += e.Json["dropped"]!.GetValue<long>();
            }
            else
            {
                received++;
            }
        }

        Assert.Equal(Count, received + dropped);
        var metrics = await gateway.MetricsAsync(Ct);
        Assert.Equal(dropped, HttpGatewayHarness.Metric(metrics, "switchboard_http_sse_dropped_total{reason=\"listener_overflow\"}"));
    }

    [Fact]
    public async Task Stopping_the_broker_ends_open_streams_promptly()
    {
        var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        var events = await gateway.OpenEventsAsync("?event=%23x", cancellationToken: Ct);
        await events.NextAsync();
        var stopping = gateway.DisposeAsync().AsTask();
        await stopping.WithinAsync("the broker stops with an SSE client connected");
        await events.DisposeAsync();
    }

    internal static JsonNode Parse(string text) => JsonNode.Parse(text)!;
}
