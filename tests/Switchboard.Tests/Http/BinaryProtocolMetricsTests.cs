using System.Globalization;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Http;

/// <summary>/metrics counts what flows over the binary protocol, not only over HTTP.</summary>
public sealed class BinaryProtocolMetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Metrics_count_messages_in_and_out_of_binary_protocol_connections()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, HttpPort = 0 }, cancellationToken: Ct);
        await using var publisher = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        await using var subscriber = await BusClient.ConnectAsync(host.TcpAddress!, cancellationToken: Ct);
        await using var first = await subscriber.ListenAsync(null, "#m", cancellationToken: Ct);
        await using var second = await subscriber.ListenAsync(null, "#m", cancellationToken: Ct);
        var sender = await publisher.AddSenderAsync("metered", ["#m"], cancellationToken: Ct);
        using var http = new HttpClient { BaseAddress = new Uri(host.HttpAddress!) };
        var inBefore = Metric(await http.GetStringAsync("/metrics", Ct), "switchboard_messages_in_total");
        var outBefore = Metric(await http.GetStringAsync("/metrics", Ct), "switchboard_messages_out_total");

        for (var i = 0; i < 3; i++)
        {
            await sender.TriggerAsync("#m", Payload.Json(i), cancellationToken: Ct);
        }

        for (var i = 0; i < 3; i++)
        {
            await first.NextAsync();
            await second.NextAsync();
        }

        var text = await http.GetStringAsync("/metrics", Ct);
        Assert.Equal(inBefore + 3, Metric(text, "switchboard_messages_in_total"));
        Assert.Equal(outBefore + 6, Metric(text, "switchboard_messages_out_total"));
        Assert.Equal(2, Metric(text, "switchboard_connections"));
    }

    private static long Metric(string text, string name)
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
            {
                return long.Parse(line[(name.Length + 1)..].Trim(), CultureInfo.InvariantCulture);
            }
        }

        Assert.Fail($"/metrics has no {name} line:\n{text}");
        return 0;
    }
}
