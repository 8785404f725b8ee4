using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Switchboard.Server;

namespace Switchboard.Tests.JsonLines;

/// <summary>A script's connection has no heartbeat of its own: the broker has the kernel probe it (TCP keepalive) at
/// the pace of its heartbeat settings, so a vanished machine is noticed.</summary>
public sealed partial class JsonLinesLivenessTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_broker_probes_an_idle_json_lines_peer_with_tcp_keepalive_at_its_heartbeat_pace()
    {
        await using var host = await JsonLinesPeer.StartBrokerAsync(new BrokerOptions { HeartbeatInterval = TimeSpan.FromSeconds(3), HeartbeatMisses = 2 }, Ct);
        await using var peer = await JsonLinesPeer.ConnectAsync(host, Ct);
        await peer.SendAsync("""{"op":"ping"}""");
        await peer.TakeAsync(line => line["op"]?.GetValue<string>() == "pong", "the pong");

        // ss lists the broker's end of the connection (source port = the gateway's) with its kernel timer.
        var port = new Uri(host.JsonLinesAddress!).Port;
        using var ss = Process.Start(new ProcessStartInfo("ss", ["-tnoH", "state", "established", "( sport = :" + port + " )"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = await ss.StandardOutput.ReadToEndAsync(Ct);
        await ss.WaitForExitAsync(Ct);
        Assert.Equal(0, ss.ExitCode);

        var timer = KeepaliveTimer().Match(output);
        Assert.True(timer.Success, "the broker's socket has no keepalive timer:\n" + output);
        var seconds = double.Parse(timer.Groups[1].Value, CultureInfo.InvariantCulture) * timer.Groups[2].Value switch
        {
            "ms" => 0.001,
            "sec" => 1,
            "min" => 60,
            _ => 3600,
        };
        Assert.InRange(seconds, 0, 6.5); // the first probe after 2 x 3 s of silence, not the kernel's default 2 hours
    }

    [GeneratedRegex(@"timer:\(keepalive,([\d.]+)(ms|sec|min|h)")]
    private static partial Regex KeepaliveTimer();
}
