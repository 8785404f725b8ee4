using System.Text.Json;
using System.Text.RegularExpressions;
using Switchboard.Cli.Tests.Support;

namespace Switchboard.Cli.Tests;

/// <summary><c>switchboard demo</c> as a real process: its own broker, timer sender and listener.</summary>
public sealed partial class DemoCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [GeneratedRegex(@"^broker: listening on (sb://127\.0\.0\.1:[1-9]\d*) \(in this process\)$")]
    private static partial Regex BrokerLine();

    [Fact]
    public async Task Demo_count_3_shows_three_ticks_sent_and_received_in_order_and_exits_0()
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync("demo", "--count", "3", "--interval-ms", "50");

        Assert.True(code == 0, stdout + stderr);
        Assert.Equal("", stderr);
        var lines = stdout.TrimEnd('\n').Split('\n');
        Assert.Matches(BrokerLine(), lines[0]);
        Assert.Equal("listener: subscribed to timer/tick", lines[1]);
        var received = lines.Where(l => l.StartsWith("received: timer/tick ", StringComparison.Ordinal)).ToList();
        Assert.Equal([1, 2, 3], received.Select(l => JsonDocument.Parse(l["received: timer/tick ".Length..]).RootElement.GetProperty("n").GetInt32()));
        Assert.Equal(3, lines.Count(l => l.StartsWith("sent:     timer/tick ", StringComparison.Ordinal)));
        Assert.Equal("demo: 3 tick(s) sent, 3 received; stopping", lines[^1]);
        Assert.DoesNotContain('\u001b', stdout);
    }

    [Fact]
    public async Task Demo_broker_is_reachable_from_outside_and_sigterm_stops_it_with_exit_0()
    {
        await using var demo = CliProcess.Start("demo", "--interval-ms", "100");
        var address = BrokerLine().Match(await demo.ReadLineAsync()).Groups[1].Value;
        Assert.NotEqual("", address);

        // What the demo tells a user to do from another shell: listen to its timer over its broker.
        await using (var bus = await BusClient.ConnectAsync(address, cancellationToken: Ct))
        await using (var ticks = await bus.ListenAsync("timer", "tick", cancellationToken: Ct))
        {
            using var cts = new CancellationTokenSource(CliProcess.Timeout);
            var tick = await ticks.ReadAsync(cts.Token);
            Assert.True(JsonDocument.Parse(tick.Data.Bytes).RootElement.GetProperty("n").GetInt32() >= 1);
        }

        await demo.TerminateAsync();
        Assert.Equal(0, await demo.WaitForExitAsync());
        Assert.Matches(@"demo: \d+ tick\(s\) sent, \d+ received; stopping\n$", demo.RemainingOut());
    }

    [Fact]
    public async Task Demo_duration_stops_it_with_exit_0()
    {
        await using var demo = CliProcess.Start("demo", "--duration", "1", "--interval-ms", "100");
        Assert.Equal(0, await demo.WaitForExitAsync());
        Assert.Matches(@"\ndemo: \d+ tick\(s\) sent, \d+ received; stopping\n$", demo.RemainingOut());
    }

    [Fact]
    public async Task Demo_on_a_taken_port_exits_2_with_one_line_naming_the_port()
    {
        using var occupier = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        occupier.Start();
        var port = ((System.Net.IPEndPoint)occupier.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var (code, stdout, stderr) = await CliProcess.RunAsync("demo", "--port", port, "--count", "1");

        Assert.Equal((2, ""), (code, stdout));
        Assert.StartsWith($"error: could not start the demo broker on port {port}: ", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.TrimEnd('\n').Split('\n')); // one line, no stack trace
    }
}
