using System.Net.Http.Headers;
using System.Text;
using Switchboard.Server;
using Switchboard.Tests.Http;
using JsonLinesPeer = Switchboard.Tests.JsonLines.JsonLinesPeer;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Security;

/// <summary>Each kind of permission allowed and denied, on the binary protocol (BusClient), JSON lines and HTTP: a denial
/// is <c>forbidden</c> naming the rule, and the connection goes on working.</summary>
public sealed class PermissionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_binary_client_is_held_to_its_permissions_and_keeps_working_after_each_denial()
    {
        await using var host = await BrokerHost.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        await using var admin = await BusClient.ConnectAsync(host.TcpAddress!, SecurityKit.Client("admin", SecurityKit.AdminToken), Ct);
        await using var timer = await admin.AddSenderAsync("timer", ["tick", "secret", "#public.news"],
            requests: new() { ["get_ticks"] = (_, _) => ValueTask.FromResult(Payload.Utf8("42")), ["reset"] = (_, _) => ValueTask.FromResult(Payload.Empty) }, cancellationToken: Ct);
        await using var producer = await admin.AddProducerAsync("prices.eur", (_, _) => ValueTask.FromResult(Payload.Utf8("1.08")), cancellationToken: Ct);
        await using var reader = await BusClient.ConnectAsync(host.TcpAddress!, SecurityKit.Client("reader", SecurityKit.ReaderToken), Ct);

        Assert.Contains("Senders.Deny rule '>'", await ForbiddenAsync(() => reader.AddSenderAsync("r1", ["x"], cancellationToken: Ct).AsTask()), StringComparison.Ordinal);
        Assert.Contains("whole bus", await ForbiddenAsync(() => reader.ListenAsync(null, null, cancellationToken: Ct).AsTask()), StringComparison.Ordinal);
        Assert.Contains("no Listen.Allow rule covers it", await ForbiddenAsync(() => reader.ListenAsync(null, "#private.x", cancellationToken: Ct).AsTask()), StringComparison.Ordinal);
        Assert.Contains("Listen.Deny rule 'timer/secret'", await ForbiddenAsync(() => reader.ListenAsync("timer", "secret", cancellationToken: Ct).AsTask()), StringComparison.Ordinal);
        Assert.Contains("'timer/secret'", await ForbiddenAsync(() => reader.ListenAsync("timer", null, cancellationToken: Ct).AsTask()), StringComparison.Ordinal); // timer's broadcast holds secret
        Assert.Contains("request 'reset' of sender 'timer'", await ForbiddenAsync(() => reader.RequestAsync("timer", "reset", cancellationToken: Ct).AsTask()), StringComparison.Ordinal);
        Assert.Contains("Produce.Deny", await ForbiddenAsync(() => reader.AddProducerAsync("prices.usd", (_, _) => ValueTask.FromResult(Payload.Empty), cancellationToken: Ct).AsTask()), StringComparison.Ordinal);
        Assert.Contains("gather on the topic 'orders.new'", await ForbiddenAsync(async () => await DrainAsync(reader.GatherAsync("orders.new", Payload.Empty, TimeSpan.FromSeconds(1), cancellationToken: Ct))), StringComparison.Ordinal);
        Assert.Contains("Gather", await ForbiddenAsync(() => reader.ListenResultsAsync("orders.new", (_, _) => default, cancellationToken: Ct).AsTask()), StringComparison.Ordinal);

        // What it may do still works on the same connection.
        await using var ticks = await reader.ListenAsync("timer", "tick", cancellationToken: Ct);
        await using var news = await reader.ListenAsync(null, "#public.news", cancellationToken: Ct);
        await timer.TriggerAsync("tick", Payload.Utf8("1"), cancellationToken: Ct);
        await timer.TriggerAsync("#public.news", Payload.Utf8("2"), cancellationToken: Ct);
        Assert.Equal("1", (await ticks.NextAsync()).Data.ToString());
        Assert.Equal("2", (await news.NextAsync()).Data.ToString());
        Assert.Equal("42", (await reader.RequestAsync("timer", "get_ticks", cancellationToken: Ct)).ToString());
        var gather = reader.GatherAsync("prices.eur", Payload.Empty, TimeSpan.FromSeconds(5), cancellationToken: Ct);
        Assert.Equal(["1.08"], (await DrainAsync(gather)).Select(r => r.Data.ToString()));
        Assert.True(reader.IsConnected);
    }

    [Fact]
    public async Task A_user_may_register_only_its_own_sender_and_declare_only_its_own_events()
    {
        await using var host = await BrokerHost.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        await using var alice = await BusClient.ConnectAsync(host.TcpAddress!, SecurityKit.Client("a", "alice:" + SecurityKit.UserPassword), Ct);
        Assert.Contains("no Senders.Allow rule covers it (allowed: 'alice')", await ForbiddenAsync(() => alice.AddSenderAsync("bob", ["alice.x"], cancellationToken: Ct).AsTask()), StringComparison.Ordinal);
        Assert.Contains("declare the event '#alerts.fire'", await ForbiddenAsync(() => alice.AddSenderAsync("alice", ["alice.x", "#alerts.fire"], cancellationToken: Ct).AsTask()), StringComparison.Ordinal);
        Assert.Contains("'#>'", await ForbiddenAsync(() => alice.AddSenderAsync("alice", ["#>"], cancellationToken: Ct).AsTask()), StringComparison.Ordinal); // a pattern wider than allowed
        await using var sender = await alice.AddSenderAsync("alice", ["alice.status", "#public.>"], cancellationToken: Ct);
        await sender.TriggerAsync("#public.chat", Payload.Utf8("hi"), cancellationToken: Ct);
    }

    [Fact]
    public async Task Jwt_permissions_come_from_their_claim_and_a_bad_claim_refuses_the_token()
    {
        await using var host = await BrokerHost.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        var token = SecurityKit.Jwt("browser-7", TimeSpan.FromMinutes(5), """{"listen":{"allow":["*/#public.>"]},"senders":{"deny":[">"]}}""");
        await using var browser = await BusClient.ConnectAsync(host.TcpAddress!, SecurityKit.Client("b", token), Ct);
        await using var news = await browser.ListenAsync(null, "#public.>", cancellationToken: Ct);
        Assert.Contains("The identity 'browser-7' may not listen to sender timer", await ForbiddenAsync(() => browser.ListenAsync("timer", "tick", cancellationToken: Ct).AsTask()), StringComparison.Ordinal);

        var bad = SecurityKit.Jwt("x", TimeSpan.FromMinutes(5), """{"listen":{"allow":["a..b"]}}""");
        var refused = await Assert.ThrowsAnyAsync<SwitchboardException>(async () => await BusClient.ConnectAsync(host.TcpAddress!, SecurityKit.Client("x", bad), Ct));
        Assert.Contains("'switchboard' claim is not usable", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_json_lines_client_is_held_to_the_same_permissions_and_its_connection_stays()
    {
        await using var host = await BrokerHost.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        await using var admin = await BusClient.ConnectAsync(host.TcpAddress!, SecurityKit.Client("admin", SecurityKit.AdminToken), Ct);
        await using var timer = await admin.AddSenderAsync("timer", ["tick"], requests: new() { ["get_ticks"] = (_, _) => ValueTask.FromResult(Payload.Utf8("42")) }, cancellationToken: Ct);
        await using var peer = await JsonLinesPeer.ConnectAsync(host, Ct);
        await peer.OkAsync($$"""{"op":"hello","client":"r","token":"{{SecurityKit.ReaderToken}}","heartbeat":false,"id":0}""", 0);

        await peer.ErrorAsync("""{"op":"sender","name":"r1","events":["x"],"id":1}""", ErrorCodes.Forbidden, 1);
        await peer.ErrorAsync("""{"op":"listen","id":2}""", ErrorCodes.Forbidden, 2);
        await peer.ErrorAsync("""{"op":"listen","event":"#private.x","id":3}""", ErrorCodes.Forbidden, 3);
        await peer.ErrorAsync("""{"op":"request","sender":"timer","request":"reset","id":4}""", ErrorCodes.Forbidden, 4);
        await peer.ErrorAsync("""{"op":"producer","topics":["prices.usd"],"id":5}""", ErrorCodes.Forbidden, 5);
        await peer.ErrorAsync("""{"op":"gather","topic":"orders.new","id":6}""", ErrorCodes.Forbidden, 6);
        var named = await peer.ErrorAsync("""{"op":"results","topic":"orders.new","id":7}""", ErrorCodes.Forbidden, 7);
        Assert.Contains("Gather.Allow", named["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        await peer.OkAsync("""{"op":"listen","sender":"timer","event":"tick","id":"L"}""", "L");
        await timer.TriggerAsync("tick", Payload.Utf8("7"), cancellationToken: Ct);
        Assert.Equal(7, (await peer.EventAsync("L", 1))["data"]!.GetValue<int>());
        var reply = await peer.AskAsync("""{"op":"request","sender":"timer","request":"get_ticks","id":8}""", 8);
        Assert.Equal(42, reply["data"]!.GetValue<int>());
    }

    [Fact]
    public async Task Http_callers_and_sse_streams_are_held_to_the_same_permissions_and_the_dashboard_needs_the_whole_bus()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(SecurityKit.Broker(), cancellationToken: Ct);
        await using var admin = await BusClient.ConnectAsync(gateway.Host.TcpAddress!, SecurityKit.Client("admin", SecurityKit.AdminToken), Ct);
        await using var timer = await admin.AddSenderAsync("timer", ["tick"], requests: new() { ["get_ticks"] = (_, _) => ValueTask.FromResult(Payload.Utf8("42")) }, cancellationToken: Ct);
        var reader = new AuthenticationHeaderValue("Bearer", SecurityKit.ReaderToken);

        Assert.Contains("Senders.Deny", HttpGatewayHarness.AssertError(await PostAsync(gateway, "/senders", """{"name":"h1","events":["x"]}""", reader), 403, ErrorCodes.Forbidden), StringComparison.Ordinal);
        HttpGatewayHarness.AssertError(await PostAsync(gateway, "/request", """{"sender":"timer","request":"reset"}""", reader), 403, ErrorCodes.Forbidden);
        HttpGatewayHarness.AssertError(await PostAsync(gateway, "/gather", """{"topic":"orders.new","ttl_ms":50}""", reader), 403, ErrorCodes.Forbidden);
        Assert.Equal(200, (await PostAsync(gateway, "/request", """{"sender":"timer","request":"get_ticks"}""", reader)).Status);
        Assert.Equal(200, (await PostAsync(gateway, "/gather", """{"topic":"prices.eur","ttl_ms":50}""", reader)).Status);

        HttpGatewayHarness.AssertError(await GetAsync(gateway, "/events?event=%23private.x", reader), 403, ErrorCodes.Forbidden);
        HttpGatewayHarness.AssertError(await GetAsync(gateway, "/events", reader), 403, ErrorCodes.Forbidden);
        Assert.Contains("whole bus", HttpGatewayHarness.AssertError(await GetAsync(gateway, "/dashboard/stream", reader), 403, ErrorCodes.Forbidden), StringComparison.Ordinal);

        await using var ticks = await SseReader.OpenAsync(gateway.Http, $"/events?sender=timer&event=tick&token={SecurityKit.ReaderToken}", cancellationToken: Ct);
        await timer.TriggerAsync("tick", Payload.Utf8("5"), cancellationToken: Ct);
        Assert.Equal(5, (await ticks.NextEventAsync()).Json["data"]!.GetValue<int>());
        await using var dashboard = await SseReader.OpenAsync(gateway.Http, $"/dashboard/stream?token={SecurityKit.AdminToken}", cancellationToken: Ct);
        gateway.AssertNoErrorsLogged();
    }

    private static async Task<string> ForbiddenAsync(Func<Task> call)
    {
        var error = await Assert.ThrowsAnyAsync<SwitchboardException>(call);
        Assert.True(error.Code == ErrorCodes.Forbidden, $"Expected forbidden, got {error.Code}: {error.Message}");
        return error.Message;
    }

    private static async Task<List<GatherResult>> DrainAsync(GatherCall call)
    {
        var results = new List<GatherResult>();
        await foreach (var result in call)
        {
            results.Add(result);
        }

        return results;
    }

    private static Task<(int Status, System.Text.Json.Nodes.JsonNode? Body)> PostAsync(HttpGatewayHarness gateway, string path, string body, AuthenticationHeaderValue authorization)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = authorization;
        return gateway.SendAsync(request, Ct);
    }

    private static Task<(int Status, System.Text.Json.Nodes.JsonNode? Body)> GetAsync(HttpGatewayHarness gateway, string path, AuthenticationHeaderValue authorization)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = authorization;
        return gateway.SendAsync(request, Ct);
    }
}
