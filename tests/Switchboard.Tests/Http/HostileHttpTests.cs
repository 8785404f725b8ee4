using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Switchboard.Server;

namespace Switchboard.Tests.Http;

/// <summary>Hostile bodies against every JSON endpoint: each gets a 400 or 413 with the error object, nothing crashes,
/// nothing is logged as an error, and the broker goes on serving.</summary>
public sealed class HostileHttpTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string, string> Bodies => new()
    {
        { "/publish", "", "invalid_json" },
        { "/publish", "   \n", "invalid_json" },
        { "/publish", "{", "invalid_json" },
        { "/publish", "{\"sender\":\"h1\",}", "invalid_json" },
        { "/publish", "[1,2]", "invalid_json" },
        { "/publish", "42", "invalid_json" },
        { "/publish", "null", "invalid_json" },
        { "/publish", "{} {}", "invalid_json" },
        { "/publish", "{\"sender\":5,\"event\":\"tick\"}", "invalid_field" },
        { "/publish", "{\"sender\":\"h1\",\"event\":[\"tick\"]}", "invalid_field" },
        { "/publish", "{\"sender\":\"h1\",\"events\":\"tick\"}", "invalid_field" },
        { "/publish", "{\"sender\":\"h1\",\"events\":[1]}", "invalid_field" },
        { "/publish", "{\"sender\":\"h1\",\"event\":\"tick\",\"retain\":\"yes\"}", "invalid_field" },
        { "/publish", "{\"event\":\"tick\"}", "invalid_field" },
        { "/publish", "{\"sender\":\"\",\"event\":\"tick\"}", "invalid_name" },
        { "/publish", "{\"sender\":\"a b\",\"event\":\"tick\"}", "invalid_name" },
        { "/publish", "{\"sender\":\"h1\",\"event\":\"a..b\"}", "invalid_name" },
        { "/publish", "{\"sender\":\"" + new string('x', 500) + "\",\"event\":\"tick\"}", "invalid_name" },
        { "/senders", "{\"name\":\"x\"}", "invalid_field" },
        { "/senders", "{\"name\":\"x\",\"events\":{}}", "invalid_field" },
        { "/senders", "{\"name\":\"x\",\"events\":[\"a*\"]}", "invalid_name" },
        { "/senders", "{\"name\":\"x.y\",\"events\":[\"a\"]}", "invalid_name" },
        { "/senders", "{\"name\":\"x\",\"events\":[\"a\"],\"will\":{}}", "invalid_field" },
        { "/request", "{\"sender\":\"s\"}", "invalid_field" },
        { "/request", "{\"sender\":\"s\",\"request\":\"r\",\"timeout_ms\":-5}", "invalid_field" },
        { "/request", "{\"sender\":\"s\",\"request\":\"r\",\"timeout_ms\":1.5}", "invalid_field" },
        { "/request", "{\"sender\":\"s\",\"request\":\"r\",\"timeout_ms\":99999999999}", "invalid_field" },
        { "/gather", "{\"topic\":5}", "invalid_field" },
        { "/gather", "{\"topic\":\"t\",\"ttl_ms\":0}", "invalid_field" },
        { "/gather", "{\"topic\":\"a.*\"}", "invalid_name" },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task A_bad_body_is_a_400_with_the_error_object(string path, string body, string code)
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"h1","events":["tick"]}""", Ct);
        HttpGatewayHarness.AssertError(await gateway.PostAsync(path, body, Ct), 400, code);
        Assert.Equal("ok", await gateway.Http.GetStringAsync("/healthz", Ct));
        gateway.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Invalid_utf8_and_deep_nesting_are_refused()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        using var bad = new ByteArrayContent([(byte)'{', (byte)'"', 0xff, 0xfe, (byte)'"', (byte)':', (byte)'1', (byte)'}']);
        bad.Headers.ContentType = new MediaTypeHeaderValue("application/json"); // declared JSON, and not UTF-8
        using (var response = await gateway.Http.PostAsync("/publish", bad, Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("invalid_json", await response.Content.ReadAsStringAsync(Ct));
        }

        var deep = "{\"sender\":\"h1\",\"event\":\"tick\",\"data\":" + new string('[', 5000) + new string(']', 5000) + "}";
        HttpGatewayHarness.AssertError(await gateway.PostAsync("/publish", deep, Ct), 400, "invalid_json");
        gateway.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task An_oversize_body_is_a_413_with_or_without_a_content_length()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(http: new HttpGatewayOptions { MaxBodyBytes = 1024 }, cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"h1","events":["tick"]}""", Ct);
        var big = "{\"sender\":\"h1\",\"event\":\"tick\",\"data\":\"" + new string('x', 5000) + "\"}";
        Assert.Contains("1024", HttpGatewayHarness.AssertError(await gateway.PostAsync("/publish", big, Ct), 413, "body_too_large"));

        // Chunked: no Content-Length, so the limit is found while reading.
        using var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, "/publish") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        HttpGatewayHarness.AssertError(await gateway.SendAsync(request, Ct), 413, "body_too_large");

        // Just under the limit still works.
        await gateway.OkAsync("/publish", "{\"sender\":\"h1\",\"event\":\"tick\",\"data\":\"" + new string('x', 900) + "\"}", Ct);
        gateway.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_body_that_stops_coming_is_a_408_body_timeout_and_the_broker_goes_on()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"h1","events":["tick"]}""", Ct);
        var uri = new Uri(gateway.Host.HttpAddress!);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(uri.Host, uri.Port, Ct);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"POST /publish HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"sender\":"), Ct);

        // Then nothing: Kestrel's minimum body rate (240 B/s after a 5 s grace) ends the read, and the caller is told why.
        var answer = await ReadResponseAsync(socket).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.StartsWith("HTTP/1.1 408", answer, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"body_timeout\"", answer, StringComparison.Ordinal);

        await gateway.OkAsync("/publish", """{"sender":"h1","event":"tick"}""", Ct);
        gateway.AssertNoErrorsLogged();
    }

    private static async Task<string> ReadResponseAsync(Socket socket)
    {
        var received = new StringBuilder();
        var buffer = new byte[4096];
        while (!received.ToString().Contains("\"code\"", StringComparison.Ordinal))
        {
            var n = await socket.ReceiveAsync(buffer, Ct);
            if (n == 0)
            {
                break;
            }

            received.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }

        return received.ToString();
    }

    [Fact]
    public async Task A_client_that_lies_about_its_length_or_hangs_up_midway_does_not_hurt_the_broker()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        var uri = new Uri(gateway.Host.HttpAddress!);
        using (var socket = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync(uri.Host, uri.Port, Ct);
            await socket.SendAsync(Encoding.ASCII.GetBytes($"POST /publish HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{\"sender\":"), Ct);
        }

        using (var socket = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync(uri.Host, uri.Port, Ct);
            await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /events?event=%23x HTTP/1.1\r\nHost: {uri.Authority}\r\n\r\n"), Ct);
            var buffer = new byte[256];
            Assert.True(await socket.ReceiveAsync(buffer, Ct) > 0);
        }

        await gateway.OkAsync("/senders", """{"name":"h1","events":["tick"]}""", Ct);
        Assert.Equal("ok", await gateway.Http.GetStringAsync("/healthz", Ct));
        await gateway.UntilMetricAsync("switchboard_http_sse_clients", v => v == 0, "the hung-up SSE client is gone");
        gateway.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task An_overflowing_chunk_size_is_a_400_with_the_error_object_and_nothing_is_logged_as_an_error()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        var uri = new Uri(gateway.Host.HttpAddress!);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(uri.Host, uri.Port, Ct);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"POST /publish HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n{{}}\r\n0\r\n\r\n"), Ct);
        var answer = await ReadAllAsync(socket);
        Assert.StartsWith("HTTP/1.1 400", answer, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"bad_request\"", answer, StringComparison.Ordinal);
        Assert.Equal("ok", await gateway.Http.GetStringAsync("/healthz", Ct));
        gateway.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_body_with_a_key_given_twice_is_refused()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        await gateway.OkAsync("/senders", """{"name":"h1","events":["tick"]}""", Ct);
        using var content = new StringContent("""{"sender":"h1","event":"tick","sender":"h2"}""", Encoding.UTF8, "application/json");
        using var response = await gateway.Http.PostAsync("/publish", content, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.Contains("invalid_json", body, StringComparison.Ordinal);
        Assert.Contains("'sender'", body, StringComparison.Ordinal);
    }

    private static async Task<string> ReadAllAsync(Socket socket)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var received = new StringBuilder();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            {
                received.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
        }
        catch (OperationCanceledException) when (received.Length > 0)
        {
            // the server kept the connection open after its answer
        }

        return received.ToString();
    }

    [Fact]
    public async Task Unknown_paths_and_wrong_methods_are_plain_http_errors()
    {
        await using var gateway = await HttpGatewayHarness.StartAsync(cancellationToken: Ct);
        using (var response = await gateway.Http.GetAsync("/publish", Ct))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        }

        using (var response = await gateway.Http.GetAsync("/nothing", Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        HttpGatewayHarness.AssertError(await gateway.GetJsonAsync("/dashboard/secret.txt", Ct), 404, "not_found");
        HttpGatewayHarness.AssertError(await gateway.GetJsonAsync("/dashboard/..%2Fappsettings.json", Ct), 404, "not_found");
    }
}
