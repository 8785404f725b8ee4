using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Switchboard.Cli.Tests.Support;
using Switchboard.Server;

namespace Switchboard.Cli.Tests;

/// <summary>
/// The application examples of issue 15, each run as a real process: the worker service (<c>AddSwitchboard</c>), the
/// ASP.NET Core app hosting a broker (<c>AddSwitchboardBroker</c> + <c>MapSwitchboard</c>) and the typed events with a
/// source-generated JSON context; where they talk to a broker, it is a real one in this process and a
/// <see cref="BusClient"/> here checks what crossed it.
/// </summary>
public sealed class ApplicationExamplesTests
{
    private const string WorkerLog = "info: Switchboard.Examples.Worker.TemperatureLog[0] received ";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_worker_services_sender_and_listener_meet_on_the_in_process_bus_and_sigterm_stops_it_cleanly()
    {
        await using var worker = CliProcess.StartExample("Switchboard.Examples.Worker", closeInput: true, "--Thermometer:Period", "00:00:00.1");

        var first = Reading(await worker.WaitForOutAsync(WorkerLog + "thermometer #temperature "));
        var second = Reading(await worker.WaitForOutAsync(WorkerLog + "thermometer #temperature "));
        Assert.InRange(first, 20, 22);
        Assert.Equal(first == 22 ? 20 : first + 0.5, second); // the thermometer's next reading: none lost, none twice

        await worker.TerminateAsync();
        Assert.Equal(0, await worker.WaitForExitAsync());
    }

    [Fact]
    public async Task The_worker_with_a_broker_configured_sends_to_other_processes_hears_them_and_leaves_cleanly_when_stopped()
    {
        await using var broker = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var probe = await BusClient.ConnectAsync(broker.TcpAddress!, new BusClientOptions { ClientName = "probe" }, Ct);
        await using var readings = await probe.ListenAsync("thermometer", "#temperature", cancellationToken: Ct);
        await using var leaving = await probe.ListenAsync("thermometer", "#disconnect", cancellationToken: Ct);
        await using var outside = await probe.AddSenderAsync("outside", ["#temperature"], cancellationToken: Ct);
        // Retained: the worker's listener gets it whenever it registers, before or after this.
        await outside.TriggerAsync("#temperature", Payload.Json(-3.5), retain: true, cancellationToken: Ct);

        await using var worker = CliProcess.StartExample("Switchboard.Examples.Worker", closeInput: true,
            "--Switchboard:Broker", broker.TcpAddress!, "--Thermometer:Period", "00:00:00.1");

        Assert.InRange((await NextAsync(readings)).As<double>(), 20, 22);
        Assert.Equal(-3.5, Reading(await worker.WaitForOutAsync(WorkerLog + "outside #temperature ")));
        await worker.TerminateAsync();
        Assert.Equal(0, await worker.WaitForExitAsync());
        using var presence = JsonDocument.Parse((await NextAsync(leaving)).Data.Bytes);
        Assert.Equal("closed", presence.RootElement.GetProperty("reason").GetString()); // disposed at stop, not a lost connection
    }

    [Fact]
    public async Task The_web_app_hosts_a_broker_and_its_post_endpoint_publishes_to_a_client_of_that_broker()
    {
        await using var app = CliProcess.StartExample("Switchboard.Examples.WebApp", closeInput: true,
            "--urls", "http://127.0.0.1:0", "--SwitchboardBroker:Port", "0");
        var addresses = await WaitForAddressesAsync(app, "sb://", "http://", "ws://");

        await using var client = await BusClient.ConnectAsync(addresses["sb://"], new BusClientOptions { ClientName = "orders desk" }, Ct);
        await using var placed = await client.ListenAsync("shop", "#order_placed", cancellationToken: Ct);
        using var http = new HttpClient { BaseAddress = new Uri(addresses["http://"]), Timeout = CliProcess.Timeout };
        using var body = new StringContent("""{"item":"espresso","quantity":2}""", Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri("/orders", UriKind.Relative), body, Ct);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var order = await NextAsync(placed);
        Assert.Equal(("shop", "#order_placed", """{"item":"espresso","quantity":2}"""), (order.Sender, order.Event, order.Data.ToString()));
        Assert.Equal("ok", await http.GetStringAsync(new Uri("/healthz", UriKind.Relative), Ct)); // MapSwitchboard's surface on the app's port
        Assert.Equal($"{addresses["http://"].Replace("http://", "ws://", StringComparison.Ordinal)}/ws", addresses["ws://"]);

        await app.TerminateAsync();
        Assert.Equal(0, await app.WaitForExitAsync());
    }

    [Fact]
    public async Task Typed_events_in_process_round_trip_through_the_source_generated_context()
    {
        await using var example = CliProcess.StartExample("Switchboard.Examples.TypedEvents", closeInput: true);

        Assert.True(await example.WaitForExitAsync() == 0, example.Transcript);
        Assert.Equal(TypedEventsOutput, example.RemainingOut());
    }

    [Fact]
    public async Task Typed_events_over_a_broker_are_camel_case_json_that_any_client_reads()
    {
        await using var broker = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var client = await BusClient.ConnectAsync(broker.TcpAddress!, new BusClientOptions { ClientName = "untyped" }, Ct);
        await using var placed = await client.ListenAsync("shop", "#order_placed", cancellationToken: Ct);
        await using var example = CliProcess.StartExample("Switchboard.Examples.TypedEvents", closeInput: true, "--server", broker.TcpAddress!);

        Assert.True(await example.WaitForExitAsync() == 0, example.Transcript);
        Assert.Equal(TypedEventsOutput, example.RemainingOut());
        Assert.Equal("""{"id":1,"item":"espresso","quantity":2}""", (await NextAsync(placed)).Data.ToString());
    }

    private const string TypedEventsOutput = """
        [event] shop/#order_placed {"id":1,"item":"espresso","quantity":2}
        [event] order 1: 2 x espresso
        [request] espresso: 7 in stock

        """;

    /// <summary>The number a worker log line ends with.</summary>
    private static double Reading(string line) => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);

    /// <summary>Reads the 'listening: ADDRESS' lines until one of each scheme came.</summary>
    private static async Task<Dictionary<string, string>> WaitForAddressesAsync(CliProcess process, params string[] schemes)
    {
        var found = new Dictionary<string, string>();
        while (!schemes.All(found.ContainsKey))
        {
            var address = (await process.WaitForOutAsync("listening: "))["listening: ".Length..];
            found.TryAdd(schemes.FirstOrDefault(s => address.StartsWith(s, StringComparison.Ordinal)) ?? address, address);
        }

        return found;
    }

    private static async Task<BusMessage> NextAsync(IListenerQueue queue)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(CliProcess.Timeout);
        return await queue.ReadAsync(deadline.Token);
    }
}
