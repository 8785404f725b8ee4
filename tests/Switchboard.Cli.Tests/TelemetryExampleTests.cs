using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Switchboard.Cli.Tests.Support;
using Switchboard.Server;

namespace Switchboard.Cli.Tests;

/// <summary>Listening to Switchboard's ActivitySource is process-wide: this runs alone, so no other test's messages gain
/// trace headers meanwhile.</summary>
[CollectionDefinition(nameof(TracingCollection), DisableParallelization = true)]
public sealed class TracingCollection;

/// <summary>One trace across two processes: a publisher here (its spans in the OpenTelemetry in-memory exporter), the
/// telemetry example listening in a process of its own (its spans on its console), a real broker between them.</summary>
[Collection(nameof(TracingCollection))]
public sealed class TelemetryExampleTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_publisher_here_and_the_example_listening_in_another_process_share_one_trace_through_a_broker()
    {
        var spans = new List<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddSource(SwitchboardTelemetry.ActivitySourceName).AddInMemoryExporter(spans).Build();
        await using var broker = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var listener = CliProcess.StartExample("Switchboard.Examples.Telemetry", closeInput: true,
            "--server", broker.TcpAddress!, "--sender", "orders", "--event", "#placed", "--count", "1");
        await listener.WaitForErrAsync("listening:");

        await using var publisher = await BusClient.ConnectAsync(broker.TcpAddress!, new BusClientOptions { ClientName = "publisher" }, Ct);
        await using var orders = await publisher.AddSenderAsync("orders", ["#placed"], cancellationToken: Ct);
        await orders.TriggerAsync("#placed", Payload.Json(7), cancellationToken: Ct);
        var line = await listener.WaitForOutAsync("received ");
        Assert.Equal(0, await listener.WaitForExitAsync());

        Activity send;
        lock (spans)
        {
            send = Assert.Single(spans, s => s.DisplayName == "send #placed");
        }

        Assert.Equal(ActivityKind.Producer, send.Kind);
        Assert.Equal($"received orders #placed trace={send.TraceId} parent={send.SpanId}", line);
        // The example's console exporter printed its consumer span: in the same trace, a child of the send span.
        var printed = listener.Transcript;
        Assert.Matches($@"Activity\.TraceId:\s+{send.TraceId}", printed);
        Assert.Matches($@"Activity\.ParentSpanId:\s+{send.SpanId}", printed);
        Assert.Matches(@"Activity\.DisplayName:\s+process #placed", printed);
        Assert.Matches(@"Activity\.Kind:\s+Consumer", printed);
    }
}
