using System.Globalization;
using System.Text.RegularExpressions;
using Switchboard.Cli.Tests.Support;
using Switchboard.Server;

namespace Switchboard.Cli.Tests;

/// <summary><c>switchboard bench</c> as a real process: the load tool measuring a real broker, and the allocation proof.
/// Bounded: one short run of each, on 127.0.0.1.</summary>
public sealed partial class BenchCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Bench_run_measures_a_broker_and_prints_the_table_with_no_loss()
    {
        await using var broker = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        var port = new Uri(broker.TcpAddress!).Port.ToString(CultureInfo.InvariantCulture);
        await using var bench = CliProcess.Start("bench", "run", "--switchboard", port, "--scenarios", "S1,S4", "--runs", "1", "--duration", "0.5", "--warmup", "0.2");
        Assert.Equal(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)));
        var table = bench.RemainingOut();

        var s1 = S1Row().Match(table);
        Assert.True(s1.Success, "no S1 row in:\n" + table);
        Assert.True(double.Parse(s1.Groups[1].Value, NumberStyles.Number, CultureInfo.InvariantCulture) > 0, s1.Value);
        Assert.Matches(@"\| S4 \| sequential request/reply, 16 B \| p50 µs \| [\d,.]+ \|", table);
        var progress = bench.RemainingErr();
        Assert.Matches(@"S1 Switchboard run 1/1 .* loss 0", progress);
        Assert.DoesNotMatch(@"loss [1-9]", progress);
    }

    [Fact]
    public async Task Bench_run_with_the_real_client_measures_BusClient_and_its_bytes_per_message()
    {
        await using var broker = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        var port = new Uri(broker.TcpAddress!).Port.ToString(CultureInfo.InvariantCulture);
        await using var bench = CliProcess.Start("bench", "run", "--clients", "--switchboard", port, "--scenarios", "S1,S4", "--runs", "1", "--duration", "0.5", "--warmup", "0.2");
        Assert.Equal(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(90)));
        var table = bench.RemainingOut();

        Assert.Contains("| # | scenario | metric | BusClient |", table, StringComparison.Ordinal);
        var s1 = S1Row().Match(table);
        Assert.True(s1.Success && double.Parse(s1.Groups[1].Value, NumberStyles.Number, CultureInfo.InvariantCulture) > 0, "no S1 rate in:\n" + table);
        Assert.Matches(@"\|  \|  \| client B/op \| [\d,.]+ \|", table);
        Assert.Matches(@"\| S4 \| sequential request/reply, 16 B \| p50 µs \| [\d,.]+ \|", table);
        Assert.DoesNotMatch(@"loss [1-9]", bench.RemainingErr());
    }

    [Fact]
    public async Task Bench_run_measures_the_gateways_json_lines_websocket_and_sse_with_no_loss()
    {
        await using var broker = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, JsonLinesPort = 0, HttpPort = 0 }, cancellationToken: Ct);
        var jsonl = new Uri(broker.JsonLinesAddress!).Port.ToString(CultureInfo.InvariantCulture);
        var http = new Uri(broker.HttpAddress!).Port.ToString(CultureInfo.InvariantCulture);
        await using var bench = CliProcess.Start("bench", "run", "--switchboard-jsonl", jsonl, "--switchboard-ws", http, "--switchboard-sse", http,
            "--scenarios", "S1,S9", "--fan-out", "10", "--window", "100", "--runs", "1", "--duration", "0.5", "--warmup", "0.2");
        Assert.Equal(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(120)));
        var table = bench.RemainingOut();

        // One column per surface; every rate above zero, S9's delivery latency measured.
        Assert.Matches(@"\| S1 \| [^|]+ \| msgs/s received \| [1-9][\d,]* \| [1-9][\d,]* \| [1-9][\d,]* \|", table);
        Assert.Matches(@"\| S9 \| [^|]+ \| deliveries/s \| [1-9][\d,]* \| [1-9][\d,]* \| [1-9][\d,]* \|", table);
        Assert.Matches(@"\|  \|  \| p99 delivery µs \| [\d,.]+ \| [\d,.]+ \| [\d,.]+ \|", table);
        var progress = bench.RemainingErr();
        Assert.Matches(@"S9 Switchboard SSE run 1/1 .* loss 0", progress);
        Assert.DoesNotMatch(@"loss [1-9]|FAILED", progress);
    }

    [Fact]
    public async Task Bench_alloc_shows_no_allocation_per_message_through_broker_and_clients()
    {
        // A million messages: one allocation of even 24 B per message would show as 24 B/msg; the fixed costs of the
        // run (timers, heartbeats, first uses) stay well under 4 MB.
        await using var bench = CliProcess.Start("bench", "alloc", "--messages", "1000000", "--warmup", "100000");
        Assert.Equal(0, await bench.WaitForExitAsync(TimeSpan.FromSeconds(120)));
        var table = bench.RemainingOut();
        var perMessage = PerMessageRow().Match(table);
        Assert.True(perMessage.Success, "no per-message row in:\n" + table);
        var bytes = double.Parse(perMessage.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(bytes < 4, $"{bytes} B allocated per message:\n{table}");
        Assert.Contains("| lost | 0 |", table, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_with_an_unknown_command_exits_2_with_its_usage()
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync("bench", "bogus");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("error: Unknown command 'bogus'.", stderr, StringComparison.Ordinal);
        Assert.Contains("alloc [--messages N", stderr, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\| S1 \| [^|]+ \| msgs/s received \| ([\d,]+) \|")]
    private static partial Regex S1Row();

    [GeneratedRegex(@"\| bytes allocated per message \| ([\d.]+) \|")]
    private static partial Regex PerMessageRow();
}
