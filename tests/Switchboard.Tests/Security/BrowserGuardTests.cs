using System.Net;
using System.Net.WebSockets;
using System.Text;
using Switchboard.Server;
using Switchboard.Server.Security;
using Switchboard.Tests.Http;

namespace Switchboard.Tests.Security;

/// <summary>What another site's page could try against a broker on this machine, each refused over real HTTP: a foreign
/// <c>Origin</c> (fetch, SSE, WebSocket), a rebound host name, a form-encoded POST; and what is allowed on purpose
/// (the broker's own origin, configured origins with CORS, configured host names).</summary>
public sealed class BrowserGuardTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_page_of_another_origin_is_refused_on_every_endpoint_and_the_own_origin_is_not()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        foreach (var path in new[] { "/senders", "/events?event=%23x", "/dashboard/stream", "/" })
        {
            HttpGatewayHarness.AssertError(await SendAsync(gateway, HttpMethod.Get, path, origin: "http://evil.example"), 403, ErrorCodes.ForbiddenOrigin);
        }

        HttpGatewayHarness.AssertError(await SendAsync(gateway, HttpMethod.Post, "/senders", """{"name":"s","events":["x"]}""", origin: "null"), 403, ErrorCodes.ForbiddenOrigin);
        var own = gateway.Host.HttpAddress!;
        Assert.Equal(201, (await SendAsync(gateway, HttpMethod.Post, "/senders", """{"name":"s","events":["x"]}""", origin: own)).Status);
        Assert.Equal(0, gateway.Host.Broker.AuthRefusals);
        gateway.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_rebound_host_name_is_refused_and_ip_addresses_localhost_and_allowed_names_are_answered()
    {
        var security = SecurityOptions.None with { Browser = new BrowserOptions { AllowedHosts = ["bus.example.com"] } };
        await using var gateway = await HttpGatewayHarness.StartAsync(new BrokerOptions { Security = security }, cancellationToken: Ct);
        var port = new Uri(gateway.Host.HttpAddress!).Port;
        Assert.Contains("DNS rebinding", HttpGatewayHarness.AssertError(await SendAsync(gateway, HttpMethod.Get, "/senders", host: $"attacker.example:{port}"), 403, ErrorCodes.ForbiddenHost), StringComparison.Ordinal);
        foreach (var host in new[] { $"localhost:{port}", $"127.0.0.1:{port}", $"[::1]:{port}", $"bus.example.com:{port}", "BUS.example.com" })
        {
            Assert.Equal(200, (await SendAsync(gateway, HttpMethod.Get, "/senders", host: host)).Status);
        }
    }

    [Fact]
    public async Task State_changing_calls_must_be_json_so_no_form_can_make_them()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"s1","events":["tick"]}""", Ct);
        foreach (var type in new[] { "application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x" })
        {
            HttpGatewayHarness.AssertError(await SendAsync(gateway, HttpMethod.Post, "/publish", """{"sender":"s1","event":"tick"}""", contentType: type), 415, ErrorCodes.UnsupportedMediaType);
        }

        HttpGatewayHarness.AssertError(await SendAsync(gateway, HttpMethod.Post, "/publish", """{"sender":"s1","event":"tick"}""", contentType: null), 415, ErrorCodes.UnsupportedMediaType);
        Assert.Equal(200, (await SendAsync(gateway, HttpMethod.Post, "/publish", """{"sender":"s1","event":"tick"}""", contentType: "application/json; charset=utf-8")).Status);
    }

    [Fact]
    public async Task Allowed_origins_get_cors_answers_and_preflights_while_others_do_not()
    {
        var security = SecurityOptions.None with { Browser = new BrowserOptions { AllowedOrigins = ["https://app.example.com"] } };
        await using var gateway = await HttpGatewayHarness.StartAsync(new BrokerOptions { Security = security }, cancellationToken: Ct);
        using (var preflight = new HttpRequestMessage(HttpMethod.Options, "/publish"))
        {
            preflight.Headers.Add("Origin", "https://app.example.com");
            preflight.Headers.Add("Access-Control-Request-Method", "POST");
            preflight.Headers.Add("Access-Control-Request-Headers", "content-type, authorization");
            using var answer = await gateway.Http.SendAsync(preflight, Ct);
            Assert.Equal(HttpStatusCode.NoContent, answer.StatusCode);
            Assert.Equal("https://app.example.com", answer.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.Contains("POST", answer.Headers.GetValues("Access-Control-Allow-Methods").Single(), StringComparison.Ordinal);
            Assert.Contains("Content-Type", answer.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.Ordinal);
        }

        using (var get = new HttpRequestMessage(HttpMethod.Get, "/senders"))
        {
            get.Headers.Add("Origin", "https://app.example.com");
            using var answer = await gateway.Http.SendAsync(get, Ct);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("https://app.example.com", answer.Headers.GetValues("Access-Control-Allow-Origin").Single());
        }

        HttpGatewayHarness.AssertError(await SendAsync(gateway, HttpMethod.Options, "/publish", origin: "https://other.example.com"), 403, ErrorCodes.ForbiddenOrigin);
    }

    [Fact]
    public async Task A_websocket_from_a_foreign_page_is_refused_and_one_without_an_origin_is_served()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        var ws = new Uri(gateway.Host.WebSocketAddress!);
        using (var foreign = new ClientWebSocket())
        {
            foreign.Options.SetRequestHeader("Origin", "http://evil.example");
            var refused = await Assert.ThrowsAsync<WebSocketException>(() => foreign.ConnectAsync(ws, Ct));
            Assert.Contains("403", refused.Message, StringComparison.Ordinal);
        }

        await using var client = await BusClient.ConnectAsync(gateway.Host.WebSocketAddress!, cancellationToken: Ct);
        Assert.True(client.IsConnected);
    }

    private static async Task<(int Status, System.Text.Json.Nodes.JsonNode? Body)> SendAsync(HttpGatewayHarness gateway, HttpMethod method, string path, string? body = null, string? origin = null, string? host = null, string? contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            if (contentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        if (host is not null)
        {
            request.Headers.Host = host;
        }

        return await gateway.SendAsync(request, Ct);
    }
}
