using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Hosting;

/// <summary><c>AddSwitchboardBroker()</c> + <c>MapSwitchboard()</c> in an ASP.NET Core application of its own, on real
/// sockets: clients reach the broker over TCP and over the app's own HTTP port (<c>/ws</c>), the app's endpoint still
/// answers, and the broker lives and dies with the app.</summary>
public sealed class HostedBrokerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_app_hosts_a_broker_beside_its_own_endpoint_clients_meet_over_tcp_and_websocket_and_stopping_is_a_lame_duck()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0"); // the app's own address, kept beside the broker's listeners
        builder.Services.AddSwitchboardBroker(o => o with { Port = 0 });
        builder.Services.AddHealthChecks().AddSwitchboardBroker();
        await using var app = builder.Build();
        app.MapGet("/hello", () => "hello from the app");
        app.MapSwitchboard();
        Assert.Equal(HealthStatus.Unhealthy, (await CheckAsync(app)).Status); // not started yet
        await app.StartAsync(Ct);

        var addresses = app.Services.GetRequiredService<BrokerEndpoints>().Addresses;
        var tcp = Assert.Single(addresses, a => a.StartsWith("sb://", StringComparison.Ordinal));
        var http = Assert.Single(addresses, a => a.StartsWith("http://", StringComparison.Ordinal));
        var ws = Assert.Single(addresses, a => a.StartsWith("ws://", StringComparison.Ordinal));
        Assert.Equal($"{http.Replace("http://", "ws://", StringComparison.Ordinal)}/ws", ws); // the broker's WebSocket is on the app's port

        await using var overTcp = await BusClient.ConnectAsync(tcp, new BusClientOptions { ClientName = "tcp" }, Ct);
        await using var overWs = await BusClient.ConnectAsync(ws, new BusClientOptions { ClientName = "ws" }, Ct);
        await using var queue = await overWs.ListenAsync("orders", "#placed", cancellationToken: Ct);
        var orders = await overTcp.AddSenderAsync("orders", ["#placed"], cancellationToken: Ct);
        await orders.TriggerAsync("#placed", Payload.Json(42), cancellationToken: Ct);
        Assert.Equal(42, (await queue.NextAsync()).As<int>());

        using var client = new HttpClient { BaseAddress = new Uri(http), Timeout = TimeSpan.FromSeconds(30) };
        Assert.Equal("hello from the app", await client.GetStringAsync("/hello", Ct));
        Assert.Contains("\"orders\"", await client.GetStringAsync("/senders", Ct), StringComparison.Ordinal); // the HTTP gateway too
        var healthy = await CheckAsync(app);
        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Equal(2, healthy.Entries["switchboard-broker"].Data["connections"]);

        var told = new TaskCompletionSource<ConnectionLoss?>(TaskCreationOptions.RunContinuationsAsynchronously);
        overTcp.Disconnected += (_, e) => told.TrySetResult(e.Loss);
        await app.StopAsync(Ct);
        Assert.Equal(ConnectionLoss.BrokerShutdown, await told.Task.WithinAsync("the client hearing the broker go"));
        Assert.Equal(HealthStatus.Unhealthy, (await CheckAsync(app)).Status);
    }

    [Fact]
    public async Task Broker_options_come_from_a_configuration_section()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Messaging:Broker:Port"] = "0",
            ["Messaging:Broker:JsonLinesPort"] = "0",
            ["Messaging:Broker:ServerName"] = "in-app",
            ["Messaging:Broker:HeartbeatInterval"] = "00:00:03",
            ["Messaging:Broker:Http:SseHistory"] = "7",
        });
        builder.Services.AddSwitchboardBroker(builder.Configuration.GetSection("Messaging:Broker"), o => o with { MaxConnections = 10 });
        await using var app = builder.Build();
        app.MapSwitchboard();
        await app.StartAsync(Ct);

        var broker = app.Services.GetRequiredService<Switchboard.Server.Broker>();
        Assert.Equal("in-app", broker.Options.ServerName);
        Assert.Equal(TimeSpan.FromSeconds(3), broker.Options.HeartbeatInterval);
        Assert.Equal(10, broker.Options.MaxConnections);
        Assert.Equal(7, broker.Options.Http.SseHistory);
        Assert.Equal(1000, HttpGatewayOptions.Default.SseHistory); // bound into a copy, not into the shared defaults
        var addresses = app.Services.GetRequiredService<BrokerEndpoints>().Addresses;
        Assert.Contains(addresses, a => a.StartsWith("jsonl://", StringComparison.Ordinal));
        await using var client = await BusClient.ConnectAsync(addresses.First(a => a.StartsWith("sb://", StringComparison.Ordinal)), cancellationToken: Ct);
        Assert.True(client.IsConnected);
        await app.StopAsync(Ct);
    }

    [Fact]
    public void Bad_broker_options_and_a_missing_registration_are_clear_errors()
    {
        var bad = Assert.Throws<SwitchboardException>(() => new ServiceCollection().AddSwitchboardBroker(o => o with { Host = "nowhere", Port = 70000 }));
        Assert.Equal(ErrorCodes.InvalidOptions, bad.Code);
        Assert.Contains("Host 'nowhere' is not an IP address", bad.Message, StringComparison.Ordinal);
        Assert.Contains("Port 70000 is not a TCP port", bad.Message, StringComparison.Ordinal);

        var twice = Assert.Throws<SwitchboardException>(() => new ServiceCollection().AddSwitchboardBroker().AddSwitchboardBroker());
        Assert.Contains("called twice", twice.Message, StringComparison.Ordinal);

        using var app = WebApplication.CreateSlimBuilder().Build();
        var missing = Assert.Throws<SwitchboardException>(() => app.MapSwitchboard());
        Assert.Equal(ErrorCodes.InvalidOptions, missing.Code);
        Assert.Contains("AddSwitchboardBroker()", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_apps_IBus_is_the_brokers_own_bus_so_what_the_app_triggers_reaches_network_clients()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSwitchboardBroker(o => o with { Port = 0 });
        await using var app = builder.Build();
        app.MapSwitchboard();
        await app.StartAsync(Ct);

        var bus = app.Services.GetRequiredService<IBus>();
        Assert.Same(app.Services.GetRequiredService<Switchboard.Server.Broker>().Bus, bus);
        var tcp = Assert.Single(app.Services.GetRequiredService<BrokerEndpoints>().Addresses, a => a.StartsWith("sb://", StringComparison.Ordinal));
        await using var outside = await BusClient.ConnectAsync(tcp, new BusClientOptions { ClientName = "outside" }, Ct);
        await using var news = await outside.ListenAsync("in-app", "#news", cancellationToken: Ct);
        await using var sender = await bus.AddSenderAsync("in-app", ["#news"], cancellationToken: Ct);
        await sender.TriggerAsync("#news", Payload.Json(7), cancellationToken: Ct);
        Assert.Equal(7, (await news.NextAsync()).As<int>());
        await app.StopAsync(Ct);
    }

    [Fact]
    public async Task An_IBus_the_app_registered_before_the_broker_stays_its_IBus()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        await using var own = new LocalBus();
        builder.Services.AddSingleton<IBus>(own);
        builder.Services.AddSwitchboardBroker(o => o with { Port = 0 });
        await using var app = builder.Build();

        Assert.Same(own, app.Services.GetRequiredService<IBus>());
    }

    private static Task<HealthReport> CheckAsync(WebApplication app) => app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Ct);
}
