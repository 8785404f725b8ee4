using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Switchboard.Cli.Tests.Support;

namespace Switchboard.Cli.Tests;

/// <summary><c>switchboard serve</c> as a real process: what it prints, a taken port, and a graceful SIGTERM.</summary>
public sealed partial class ServeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [GeneratedRegex(@"^listening: sb://127\.0\.0\.1:(\d+)$")]
    private static partial Regex TcpLine();

    [Fact]
    public async Task Serve_on_port_0_prints_each_real_endpoint_and_clients_connect_to_them()
    {
        var socket = Path.Combine(Path.GetTempPath(), $"sb-cli-{Guid.NewGuid():N}.sock"[..20]);
        await using var serve = CliProcess.Start("serve", "--port", "0", "--unix", socket, "--jsonl-port", "0", "--http-port", "0");
        try
        {
            var tcp = TcpLine().Match(await serve.ReadLineAsync());
            Assert.True(tcp.Success, serve.Transcript);
            Assert.NotEqual(0, int.Parse(tcp.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal($"listening: sb+unix://{socket}", await serve.ReadLineAsync());
            Assert.Matches(@"^listening: jsonl://127\.0\.0\.1:[1-9][0-9]*$", await serve.ReadLineAsync());
            Assert.Matches(@"^listening: http://127\.0\.0\.1:[1-9][0-9]*$", await serve.ReadLineAsync());
            Assert.Matches(@"^listening: ws://127\.0\.0\.1:[1-9][0-9]*/ws$", await serve.ReadLineAsync());

            var address = tcp.Value["listening: ".Length..];
            await using (var overTcp = await BusClient.ConnectAsync(address, cancellationToken: Ct))
            await using (var overUnix = await BusClient.ConnectAsync($"sb+unix://{socket}", cancellationToken: Ct))
            {
                await using var queue = await overUnix.ListenAsync("cli-tcp", "tick", cancellationToken: Ct);
                await using var sender = await overTcp.AddSenderAsync("cli-tcp", ["tick"], cancellationToken: Ct);
                await sender.TriggerAsync("tick", Payload.Json(7), cancellationToken: Ct);
                using var cts = new CancellationTokenSource(CliProcess.Timeout);
                Assert.Equal(7, (await queue.ReadAsync(cts.Token)).As<int>());
            }

            await serve.TerminateAsync();
            Assert.Equal("stopped", await serve.ReadLineAsync());
            Assert.Equal(0, await serve.WaitForExitAsync());
            Assert.Equal("", serve.RemainingOut());
        }
        finally
        {
            File.Delete(socket);
        }
    }

    [Fact]
    public async Task Serve_on_a_taken_port_exits_2_with_one_line_naming_the_port()
    {
        using var occupier = new TcpListener(IPAddress.Loopback, 0);
        occupier.Start();
        var port = ((IPEndPoint)occupier.LocalEndpoint).Port;

        var (code, stdout, stderr) = await CliProcess.RunAsync("serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--jsonl-port", "0", "--http-port", "0");

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal($"error: port {port} on 127.0.0.1 is already in use (--port, --jsonl-port and --http-port choose others, 0 picks any free port)\n", stderr);
    }

    [Fact]
    public async Task Sigterm_tells_connected_clients_the_broker_is_going_away_prints_stopped_and_exits_0()
    {
        await using var serve = CliProcess.Start("serve", "--port", "0", "--jsonl-port", "off", "--http-port", "off");
        var line = await serve.ReadLineAsync();
        Assert.Matches(TcpLine(), line);
        var options = new BusClientOptions { ClientName = "watcher", ReconnectDelay = TimeSpan.FromMilliseconds(50), MaxReconnectDelay = TimeSpan.FromMilliseconds(200) };
        await using var client = await BusClient.ConnectAsync(line["listening: ".Length..], options, Ct);
        var disconnected = new TaskCompletionSource<ConnectionEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Disconnected += (_, e) => disconnected.TrySetResult(e);

        await serve.TerminateAsync();

        var lost = await disconnected.Task.WaitAsync(CliProcess.Timeout, Ct);
        Assert.Contains("going away", lost.Reason, StringComparison.Ordinal);
        Assert.Equal("stopped", await serve.ReadLineAsync());
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Equal("", serve.RemainingOut());
        Assert.DoesNotContain("   at ", serve.RemainingErr(), StringComparison.Ordinal);
    }
}
