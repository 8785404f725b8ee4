using System.Net;
using System.Net.Sockets;
using Switchboard.Cli.Tests.Support;

namespace Switchboard.Cli.Tests;

/// <summary>Failures: one clear line on stderr and a distinct exit code, never a stack trace.</summary>
public sealed class FailureTests
{
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port; // closed again when this returns
    }

    [Theory]
    [InlineData("sub")]
    [InlineData("pub", "s1", "tick")]
    [InlineData("req", "s1", "get")]
    [InlineData("gather", "topic")]
    [InlineData("senders")]
    public async Task A_broker_that_cannot_be_reached_exits_3_naming_it(params string[] command)
    {
        var server = $"sb://127.0.0.1:{ClosedPort()}";
        var (code, stdout, stderr) = await CliProcess.RunAsync([.. command, "--server", server]);
        Assert.Equal(3, code);
        Assert.Equal("", stdout);
        Assert.StartsWith($"error: could not connect to {server}: ", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
    }

    [Theory]
    [InlineData("pub")]
    [InlineData("sub", "--count", "0")]
    [InlineData("serve", "--port", "70000")]
    [InlineData("sub", "--server", "http://127.0.0.1:7222")]
    [InlineData("nonsense")]
    public async Task Bad_usage_exits_2_with_an_error_line(params string[] command)
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync(command);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("error: ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }
}
