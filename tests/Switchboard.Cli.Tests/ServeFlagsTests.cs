using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Switchboard.Cli.Tests.Support;

namespace Switchboard.Cli.Tests;

/// <summary><c>serve</c>'s heartbeat and HTTP gateway flags: they take effect, and a bad value is one usage line.</summary>
public sealed class ServeFlagsTests
{
    /// <summary>docs/protocol.md §11: HELLO, version 1, client "demo", no credentials, no features, heartbeat 5000 ms.</summary>
    private static readonly byte[] Hello = Convert.FromHexString("14000000" + "0100" + "0100" + "040064656d6f" + "0000" + "00000000" + "88130000");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_peer_silent_after_its_handshake_is_cut_after_heartbeat_interval_times_misses()
    {
        await using var serve = CliProcess.Start("serve", "--port", "0", "--jsonl-port", "off", "--http-port", "off", "--heartbeat-interval-ms", "300", "--heartbeat-misses", "3");
        var address = new Uri((await serve.WaitForOutAsync("listening: sb://"))["listening: ".Length..]);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(address.Host, address.Port, Ct);
        var silentSince = Stopwatch.StartNew();
        await socket.SendAsync(Hello, Ct);

        // WELCOME: u32 length, type 0x81, flags, then version u16, name (u16 length + UTF-8), features u32, heartbeat u32.
        var welcome = await ReadFrameAsync(socket);
        Assert.Equal(0x81, welcome[0]);
        var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(welcome.AsSpan(4));
        Assert.Equal(300u, BinaryPrimitives.ReadUInt32LittleEndian(welcome.AsSpan(6 + nameLength + 4)));

        // Then never a byte back (not even a PONG): only the broker's heartbeat can end this connection.
        await DrainUntilClosedAsync(socket);
        var cutAfter = silentSince.Elapsed;
        Assert.InRange(cutAfter, TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(6)); // 300 ms x 3; the default would be 10 s
    }

    [Fact]
    public async Task Http_max_body_bytes_takes_effect()
    {
        await using var serve = CliProcess.Start("serve", "--port", "0", "--jsonl-port", "off", "--http-port", "0", "--http-max-body-bytes", "100");
        var http = (await serve.WaitForOutAsync("listening: http://"))["listening: ".Length..];
        using var client = new HttpClient { BaseAddress = new Uri(http), Timeout = CliProcess.Timeout };
        var body = $$"""{"sender":"s1","event":"tick","data":"{{new string('x', 200)}}"}""";
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(new Uri("/publish", UriKind.Relative), content, Ct);
        Assert.Equal(System.Net.HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("body_too_large", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retained_value_bounds_take_effect()
    {
        await using var serve = CliProcess.Start("serve", "--port", "0", "--jsonl-port", "off", "--http-port", "0", "--max-retained-value-bytes", "100", "--retained-lifetime", "WhileSenderOnline");
        var http = (await serve.WaitForOutAsync("listening: http://"))["listening: ".Length..];
        using var client = new HttpClient { BaseAddress = new Uri(http), Timeout = CliProcess.Timeout };
        using (var register = new StringContent("""{"name":"h1","events":["#e"]}""", Encoding.UTF8, "application/json"))
        {
            using var registered = await client.PostAsync(new Uri("/senders", UriKind.Relative), register, Ct);
            Assert.True(registered.IsSuccessStatusCode, await registered.Content.ReadAsStringAsync(Ct));
        }

        using var publish = new StringContent($$"""{"sender":"h1","event":"#e","data":"{{new string('x', 200)}}","retain":true}""", Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(new Uri("/publish", UriKind.Relative), publish, Ct);
        Assert.Equal(System.Net.HttpStatusCode.TooManyRequests, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.Contains("too_many", body, StringComparison.Ordinal);
        Assert.Contains("MaxRetainedValueBytes", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--max-retained", "2", "MaxRetained")]
    [InlineData("--max-retained-bytes", "250", "MaxRetainedBytes")]
    public async Task Retained_count_and_total_bounds_take_effect(string flag, string value, string setting)
    {
        await using var serve = CliProcess.Start("serve", "--port", "0", "--jsonl-port", "off", "--http-port", "0", flag, value);
        var http = (await serve.WaitForOutAsync("listening: http://"))["listening: ".Length..];
        using var client = new HttpClient { BaseAddress = new Uri(http), Timeout = CliProcess.Timeout };
        using (var register = new StringContent("""{"name":"h1","events":["#a","#b","#c"]}""", Encoding.UTF8, "application/json"))
        {
            using var registered = await client.PostAsync(new Uri("/senders", UriKind.Relative), register, Ct);
            Assert.True(registered.IsSuccessStatusCode, await registered.Content.ReadAsStringAsync(Ct));
        }

        // Two values of 100 bytes fit both bounds; a third passes the count (2) and the total (250 bytes).
        foreach (var e in new[] { "#a", "#b" })
        {
            using var fits = await RetainAsync(client, e);
            Assert.True(fits.IsSuccessStatusCode, await fits.Content.ReadAsStringAsync(Ct));
        }

        using var response = await RetainAsync(client, "#c");
        Assert.Equal(System.Net.HttpStatusCode.TooManyRequests, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.Contains("too_many", body, StringComparison.Ordinal);
        Assert.Contains(setting, body, StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> RetainAsync(HttpClient client, string channel)
    {
        using var publish = new StringContent($$"""{"sender":"h1","event":"{{channel}}","data":"{{new string('x', 100)}}","retain":true}""", Encoding.UTF8, "application/json");
        return await client.PostAsync(new Uri("/publish", UriKind.Relative), publish, Ct);
    }

    [Theory]
    [InlineData("error: --heartbeat-interval-ms 0 is out of range: use 100 to 3600000.", "--heartbeat-interval-ms", "0")]
    [InlineData("error: --heartbeat-misses 0 is out of range: use 1 to 100.", "--heartbeat-misses", "0")]
    [InlineData("error: --heartbeat-interval-ms 3600000 x --heartbeat-misses 10 is 36000 s of silence; at most 32767 s (the kernel's TCP keepalive limit, which the JSON-lines gateway follows).", "--heartbeat-interval-ms", "3600000", "--heartbeat-misses", "10")]
    [InlineData("error: --http-max-body-bytes 10 is out of range: use at least 64.", "--http-max-body-bytes", "10")]
    [InlineData("error: --sse-history 0 is out of range: use at least 1.", "--sse-history", "0")]
    [InlineData("error: --sse-keepalive-ms 0 is out of range: use at least 1.", "--sse-keepalive-ms", "0")]
    [InlineData("error: --frame-timeout-ms 5 is out of range: use at least 100.", "--frame-timeout-ms", "5")]
    [InlineData("error: --max-connections-per-address 0 is out of range: use at least 1.", "--max-connections-per-address", "0")]
    [InlineData("error: Cannot parse argument 'soon' for option '--heartbeat-interval-ms' as expected type 'System.Int32'.", "--heartbeat-interval-ms", "soon")]
    public async Task A_bad_value_is_one_error_line_and_exit_code_2(string error, params string[] flags)
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync(["serve", "--port", "0", .. flags]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal($"{error}\n(switchboard --help, or switchboard COMMAND --help, for usage)\n", stderr);
    }

    [Fact]
    public async Task Serve_help_lists_the_heartbeat_and_http_gateway_flags()
    {
        var (code, stdout, _) = await CliProcess.RunAsync("serve", "--help");
        Assert.Equal(0, code);
        foreach (var flag in new[] { "--max-outbound-bytes <BYTES>", "--frame-timeout-ms <MS>", "--max-connections <N>", "--max-connections-per-address <N>", "--max-senders-per-connection <N>", "--max-listens-per-connection <N>", "--max-producers-per-connection <N>", "--max-requests-per-second <N>", "--heartbeat-interval-ms <MS>", "--heartbeat-misses <N>", "--http-max-body-bytes <BYTES>", "--http-max-senders <N>", "--http-max-wait-ms <MS>", "--sse-history <N>", "--sse-history-bytes <BYTES>", "--sse-max-streams <N>", "--sse-max-clients <N>", "--sse-max-clients-per-address <N>", "--sse-grace-ms <MS>", "--sse-keepalive-ms <MS>", "--sse-retry-ms <MS>", "--max-retained <N>", "--max-retained-value-bytes <BYTES>", "--max-retained-bytes <BYTES>", "--retained-lifetime <LIFETIME>" })
        {
            Assert.Contains(flag, stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Max_connections_per_address_takes_effect()
    {
        await using var serve = CliProcess.Start("serve", "--port", "0", "--jsonl-port", "off", "--http-port", "off", "--max-connections-per-address", "1");
        var address = new Uri((await serve.WaitForOutAsync("listening: sb://"))["listening: ".Length..]);
        using var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await first.ConnectAsync(address.Host, address.Port, Ct);
        await first.SendAsync(Hello, Ct);
        Assert.Equal(0x81, (await ReadFrameAsync(first))[0]); // WELCOME

        using var second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await second.ConnectAsync(address.Host, address.Port, Ct);
        var refusal = await ReadFrameAsync(second);
        Assert.Equal(0x83, refusal[0]); // ERROR, before any HELLO
        Assert.Contains("MaxConnectionsPerAddress", Encoding.UTF8.GetString(refusal), StringComparison.Ordinal);
    }

    /// <summary>One frame after its u32 length prefix: type, flags, body.</summary>
    private static async Task<byte[]> ReadFrameAsync(Socket socket)
    {
        var length = new byte[4];
        await ReceiveExactlyAsync(socket, length);
        var frame = new byte[BinaryPrimitives.ReadUInt32LittleEndian(length)];
        await ReceiveExactlyAsync(socket, frame);
        return frame;
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(CliProcess.Timeout);
        for (var read = 0; read < buffer.Length;)
        {
            var n = await socket.ReceiveAsync(buffer[read..], SocketFlags.None, cts.Token);
            Assert.True(n > 0, "the broker closed the connection during the handshake");
            read += n;
        }
    }

    /// <summary>Reads (and ignores: PINGs) until the broker closes or resets the connection.</summary>
    private static async Task DrainUntilClosedAsync(Socket socket)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(CliProcess.Timeout);
        var buffer = new byte[4096];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // reset: closed too
        }
    }
}
