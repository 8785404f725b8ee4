using Switchboard.Cli.Tests.Support;

namespace Switchboard.Cli.Tests;

/// <summary><c>serve --cluster</c>'s flags: a bad value is one usage line naming the flag, and an unreachable Redis
/// is one line and exit code 2, never a stack trace.</summary>
public sealed class ServeClusterTests
{
    [Theory]
    [InlineData("error: the cluster address 'http://x:1' is not a redis:// or rediss:// address (for example redis://127.0.0.1:6379).", "--cluster", "http://x:1")]
    [InlineData("error: the cluster address 'redis://host' must name host:port after redis:// (several separated by commas).", "--cluster", "redis://host")]
    [InlineData("error: --cluster-name 'bad/name' must be 1 to 64 letters, digits, '-', '_' or '.'.", "--cluster", "redis://127.0.0.1:6379", "--cluster-name", "bad/name")]
    [InlineData("error: --cluster-lease-ms is 1500 ms; give at least twice --cluster-heartbeat-ms (2000 ms), so one late renewal does not kill a node.", "--cluster", "redis://127.0.0.1:6379", "--cluster-heartbeat-ms", "1000", "--cluster-lease-ms", "1500")]
    [InlineData("error: --cluster-heartbeat-ms is 10 ms; give 50 ms or more.", "--cluster", "redis://127.0.0.1:6379", "--cluster-heartbeat-ms", "10")]
    public async Task A_bad_cluster_flag_is_one_error_line_and_exit_code_2(string error, params string[] flags)
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync(["serve", "--port", "0", .. flags]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal($"{error}\n(switchboard --help, or switchboard COMMAND --help, for usage)\n", stderr);
    }

    [Fact]
    public async Task An_unreachable_redis_is_one_line_and_exit_code_2()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // a port nobody listens on

        var (code, stdout, stderr) = await CliProcess.RunAsync("serve", "--port", "0", "--jsonl-port", "off", "--http-port", "off", "--cluster", $"redis://127.0.0.1:{port}");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith($"error: The cluster cannot start: Redis at '127.0.0.1:{port}' is unreachable", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task Serve_help_lists_the_cluster_flags()
    {
        var (code, stdout, _) = await CliProcess.RunAsync("serve", "--help");
        Assert.Equal(0, code);
        foreach (var flag in new[] { "--cluster <URL>", "--cluster-name <NAME>", "--node-id <ID>", "--cluster-heartbeat-ms <MS>", "--cluster-lease-ms <MS>" })
        {
            Assert.Contains(flag, stdout, StringComparison.Ordinal);
        }
    }
}
