using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Hosting;

/// <summary><c>services.AddSwitchboard(...)</c> in a generic host: the bus it registers, local or a client of a real
/// broker on a free port, lives as long as the host; bad options stop the start; the health check follows the connection.</summary>
public sealed class HostedBusTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Without_a_broker_the_host_gets_a_local_bus_that_works_while_it_runs_and_is_closed_after()
    {
        using var host = Build(new Dictionary<string, string?>());
        var bus = host.Services.GetRequiredService<IBus>();
        Assert.IsType<LocalBus>(bus);
        Assert.Equal(HealthStatus.Unhealthy, (await CheckAsync(host)).Status); // not started yet

        await host.StartAsync(Ct);
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(host)).Status);
        await using (var queue = await bus.ListenAsync(null, "#orders", cancellationToken: Ct))
        {
            var sender = await bus.AddSenderAsync("shop", ["#orders"], cancellationToken: Ct);
            await sender.TriggerAsync("#orders", Payload.Json(7), cancellationToken: Ct);
            Assert.Equal(7, (await queue.NextAsync()).As<int>());
        }

        await host.StopAsync(Ct);
        var report = await CheckAsync(host);
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Contains("stopped", report.Entries["switchboard"].Description, StringComparison.Ordinal);
        var closed = await Assert.ThrowsAsync<SwitchboardException>(async () => await bus.AddSenderAsync("late", ["#x"], cancellationToken: Ct));
        Assert.Equal(ErrorCodes.Closed, closed.Code);
    }

    [Fact]
    public async Task With_a_broker_in_configuration_the_bus_is_a_client_connected_before_hosted_services_start_and_drained_after_they_stop()
    {
        await using var broker = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var observer = await BusClient.ConnectAsync(broker.TcpAddress!, new BusClientOptions { ClientName = "observer" }, Ct);
        await using var queue = await observer.ListenAsync("announcer", "#state", cancellationToken: Ct);
        using var host = Build(new Dictionary<string, string?>
        {
            ["Switchboard:Broker"] = broker.TcpAddress,
            ["Switchboard:ClientName"] = "orders-app",
        }, services => services.AddHostedService<Announcer>());

        await host.StartAsync(Ct);
        var client = Assert.IsType<BusClient>(host.Services.GetRequiredService<IBus>());
        Assert.True(client.IsConnected);
        Assert.Equal("started", (await queue.NextAsync()).As<string>()); // the app's own hosted service used the bus in its StartAsync
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(host)).Status);
        Assert.Contains(await observer.GetSendersAsync(Ct), s => s.Name == "announcer");

        await host.StopAsync(Ct);
        // Its StopAsync triggered 100 more before the bus was drained and disposed: all arrive, then the client leaves.
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(i, (await queue.NextAsync()).As<int>());
        }

        await Wait.UntilAsync(() => broker.Broker.ConnectionCount == 1, "the hosted client to leave the broker");
    }

    [Fact]
    public async Task The_health_check_is_healthy_while_connected_and_unhealthy_when_the_broker_goes_away()
    {
        var port = Fixtures.FreePort();
        var broker = await BrokerHost.StartAsync(new BrokerOptions { Port = port }, cancellationToken: Ct);
        using var host = Build(new Dictionary<string, string?>
        {
            ["Switchboard:Broker"] = broker.TcpAddress,
            ["Switchboard:ReconnectDelay"] = "00:00:00.050",
            ["Switchboard:MaxReconnectDelay"] = "00:00:00.200",
        });
        await host.StartAsync(Ct);
        var healthy = await CheckAsync(host);
        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Equal(broker.TcpAddress, healthy.Entries["switchboard"].Data["broker"]);

        await broker.KillAsync();
        await UntilAsync(host, HealthStatus.Unhealthy, "the health check to see the broker gone");
        Assert.Contains("reconnecting", (await CheckAsync(host)).Entries["switchboard"].Description, StringComparison.Ordinal);

        await using var again = await BrokerHost.StartAsync(new BrokerOptions { Port = port }, cancellationToken: Ct);
        await UntilAsync(host, HealthStatus.Healthy, "the health check to see the client back");
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Bad_options_stop_the_start_with_invalid_options_naming_every_bad_key()
    {
        using var host = Build(new Dictionary<string, string?>
        {
            ["Switchboard:Broker"] = "http://127.0.0.1:7222",
            ["Switchboard:HeartbeatMisses"] = "0",
            ["Switchboard:ConnectTimeout"] = "00:00:00",
        });
        var error = await Assert.ThrowsAsync<SwitchboardException>(() => host.StartAsync(Ct));
        Assert.Equal(ErrorCodes.InvalidOptions, error.Code);
        Assert.Contains("Switchboard:Broker: 'http://127.0.0.1:7222' is not a broker address", error.Message, StringComparison.Ordinal);
        Assert.Contains("Switchboard:HeartbeatMisses must be at least 1; it is 0", error.Message, StringComparison.Ordinal);
        Assert.Contains("Switchboard:ConnectTimeout must be more than zero", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_max_frame_size_below_the_protocols_minimum_stops_the_start_with_invalid_options()
    {
        // The client refuses to announce less than 64 KiB in HELLO; the host must say so by key, not crash in its constructor.
        using var host = Build(new Dictionary<string, string?>
        {
            ["Switchboard:Broker"] = "sb://127.0.0.1:7222",
            ["Switchboard:MaxFrameSize"] = "2048",
        });
        var error = await Assert.ThrowsAsync<SwitchboardException>(() => host.StartAsync(Ct));
        Assert.Equal(ErrorCodes.InvalidOptions, error.Code);
        Assert.Contains("Switchboard:MaxFrameSize must be at least 65536 bytes; it is 2048", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Options_set_in_code_are_checked_too_and_name_the_section_they_were_bound_from()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Messaging:Bus:ClientName"] = "x" });
        builder.Services.AddSwitchboard(builder.Configuration.GetSection("Messaging:Bus"), o => o.ReconnectDelay = TimeSpan.FromSeconds(10));
        using var host = builder.Build();
        var error = await Assert.ThrowsAsync<SwitchboardException>(() => host.StartAsync(Ct));
        Assert.Equal(ErrorCodes.InvalidOptions, error.Code);
        Assert.Contains("Messaging:Bus:MaxReconnectDelay (00:00:05) is shorter than Messaging:Bus:ReconnectDelay (00:00:10)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broker_that_does_not_answer_fails_the_start_with_connect_failed_unless_retrying_is_asked_for()
    {
        var nobody = $"sb://127.0.0.1:{Fixtures.FreePort()}";
        using (var host = Build(new Dictionary<string, string?> { ["Switchboard:Broker"] = nobody }))
        {
            var error = await Assert.ThrowsAsync<SwitchboardException>(() => host.StartAsync(Ct));
            Assert.Equal(ErrorCodes.ConnectFailed, error.Code);
        }

        using var patient = Build(new Dictionary<string, string?> { ["Switchboard:Broker"] = nobody, ["Switchboard:RetryInitialConnect"] = "true" });
        await patient.StartAsync(Ct);
        Assert.Equal(HealthStatus.Unhealthy, (await CheckAsync(patient)).Status);
        await patient.StopAsync(Ct);
    }

    private static IHost Build(Dictionary<string, string?> settings, Action<IServiceCollection>? more = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ApplicationName = "hosting-tests" });
        builder.Configuration.AddInMemoryCollection(settings);
        more?.Invoke(builder.Services); // registered before the bus: its hosted services start before the bus's would
        builder.Services.AddSwitchboard(builder.Configuration);
        builder.Services.AddHealthChecks().AddSwitchboard();
        return builder.Build();
    }

    private static Task<HealthReport> CheckAsync(IHost host) => host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Ct);

    private static async Task UntilAsync(IHost host, HealthStatus status, string what)
    {
        var deadline = DateTime.UtcNow + Wait.Timeout;
        while ((await CheckAsync(host)).Status != status)
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(10, Ct);
        }
    }

    /// <summary>An application's own hosted service that uses the bus as it starts and as it stops.</summary>
    private sealed class Announcer(IBus bus) : IHostedService
    {
        private ISender? _sender;

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            _sender = await bus.AddSenderAsync("announcer", ["#state"], cancellationToken: cancellationToken);
            await _sender.TriggerAsync("#state", Payload.Json("started"), cancellationToken: cancellationToken);
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            for (var i = 0; i < 100; i++)
            {
                await _sender!.TriggerAsync("#state", Payload.Json(i), cancellationToken: cancellationToken);
            }
        }
    }
}
