using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard;
using Switchboard.Server;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary><c>services.AddSwitchboardBroker()</c> and <c>app.MapSwitchboard()</c>: a Switchboard broker inside any ASP.NET
/// Core application, alone or beside the application's own endpoints.</summary>
public static class BrokerServiceCollectionExtensions
{
    /// <summary>
    /// Hosts a broker in the application: the binary protocol on TCP (<see cref="BrokerOptions.Port"/>, 7222 unless
    /// changed) and the other listeners <see cref="BrokerOptions"/> turns on, all through the application's Kestrel,
    /// with the application's own addresses kept. <c>app.MapSwitchboard()</c> then maps the WebSocket, the HTTP gateway
    /// and the dashboard onto the application's HTTP. Registers <see cref="Broker"/>, <see cref="BrokerEndpoints"/> and
    /// <see cref="IBus"/> (the broker's in-process <see cref="Broker.Bus"/>, unless an <see cref="IBus"/> is registered already).
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="configure">Changes the defaults: <c>o =&gt; o with { Port = 7300, JsonLinesPort = 7301 }</c>.</param>
    public static IServiceCollection AddSwitchboardBroker(this IServiceCollection services, Func<BrokerOptions, BrokerOptions>? configure = null)
    {
        var options = new BrokerOptions();
        return services.AddSwitchboardBroker(configure?.Invoke(options) ?? options, new BrokerHosting(OwnsProcess: false));
    }

    /// <summary>As <see cref="AddSwitchboardBroker(IServiceCollection, Func{BrokerOptions, BrokerOptions}?)"/>, with the
    /// options read from a configuration section (<c>"SwitchboardBroker": { "Port": 7222, "JsonLinesPort": 7223,
    /// "HeartbeatInterval": "00:00:05" }</c>: the keys are <see cref="BrokerOptions"/>' properties) and then
    /// <paramref name="configure"/>.</summary>
    /// <param name="services">The application's services.</param>
    /// <param name="section">The configuration section.</param>
    /// <param name="configure">Changes the bound options.</param>
    public static IServiceCollection AddSwitchboardBroker(this IServiceCollection services, IConfiguration section, Func<BrokerOptions, BrokerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(section);
        // The binder sets properties on the objects it finds, init-only or not: bind into copies, never into the shared
        // HttpGatewayOptions.Default, BusOptions.Default and ListenerOptions.Default.
        var options = new BrokerOptions
        {
            Http = HttpGatewayOptions.Default with { },
            Bus = BusOptions.Default with { DefaultListenerOptions = ListenerOptions.Default with { } },
        };
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            throw SwitchboardException.FromCode(ErrorCodes.InvalidOptions, $"The broker's configuration ({Where(section)}) does not fit BrokerOptions: {ex.Message}");
        }

        return services.AddSwitchboardBroker(configure?.Invoke(options) ?? options, new BrokerHosting(OwnsProcess: false));
    }

    /// <summary>The one registration of a broker on Kestrel, for applications and for <see cref="BrokerHost"/>.</summary>
    internal static IServiceCollection AddSwitchboardBroker(this IServiceCollection services, BrokerOptions options, BrokerHosting hosting)
    {
        ArgumentNullException.ThrowIfNull(services);
        Check(options);
        if (services.Any(d => d.ServiceType == typeof(BrokerEndpoints)))
        {
            throw SwitchboardException.FromCode(ErrorCodes.InvalidOptions, "AddSwitchboardBroker was called twice; one application hosts one broker.");
        }

        // The broker logs where the host logs, unless the caller gave the router its own logger factory.
        services.AddSingleton(sp => new Broker(options.Bus.LoggerFactory is NullLoggerFactory
            ? options with { Bus = options.Bus with { LoggerFactory = sp.GetRequiredService<ILoggerFactory>() } }
            : options));
        // The application's IBus is the broker's own in-process bus, so a controller or hosted service that takes IBus
        // meets the broker's network clients (unless the application registered an IBus of its own first).
        services.TryAddSingleton<IBus>(static sp => sp.GetRequiredService<Broker>().Bus);
        services.AddSingleton(sp => new BrokerEndpoints(options, sp));
        services.AddSingleton(sp => new BrokerService(sp.GetRequiredService<Broker>(), hosting));
        services.AddHostedService(sp => sp.GetRequiredService<BrokerService>());
        services.AddOptions<KestrelServerOptions>().Configure<BrokerEndpoints, IConfiguration>((kestrel, endpoints, configuration) =>
        {
            endpoints.Listen(kestrel);
            if (!hosting.OwnsProcess)
            {
                AppAddresses.Listen(kestrel, configuration);
            }
        });
        if (hosting.OwnsProcess)
        {
            // Only where Kestrel serves the broker alone: an application's own HTTP code may block, and may not want
            // 64 KiB receive blocks (LargeBlockMemoryPool says why the broker does).
            services.AddSingleton<IMemoryPoolFactory<byte>, LargeBlockMemoryPool.Factory>();
            services.Configure<SocketTransportOptions>(sockets => sockets.UnsafePreferInlineScheduling = options.InlineSocketScheduling);
        }

        return services;
    }

    /// <summary>Adds the broker's health check: healthy while it serves, unhealthy before it started and once it goes lame duck.</summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="failureStatus">What a broker that does not serve reports (Unhealthy by default).</param>
    /// <param name="tags">Tags to filter checks by.</param>
    public static IHealthChecksBuilder AddSwitchboardBroker(this IHealthChecksBuilder builder, string name = BrokerHealthCheck.DefaultName, HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Add(new HealthCheckRegistration(name, static sp => new BrokerHealthCheck(sp.GetRequiredService<Broker>(), sp.GetRequiredService<BrokerService>()), failureStatus, tags));
    }

    private static void Check(BrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.Host is not ("localhost" or "*") && !System.Net.IPAddress.TryParse(options.Host, out _))
        {
            failures.Add($"Host '{options.Host}' is not an IP address; use 127.0.0.1, ::1, localhost, 0.0.0.0 or *.");
        }

        foreach (var (name, port) in new[] { ("Port", options.Port), ("JsonLinesPort", options.JsonLinesPort), ("HttpPort", options.HttpPort) })
        {
            if (port is < 0 or > 65535)
            {
                failures.Add($"{name} {port} is not a TCP port; use 0 to 65535 (0 picks any free port), or leave it out to turn it off.");
            }
        }

        if (failures.Count > 0)
        {
            throw SwitchboardException.FromCode(ErrorCodes.InvalidOptions, $"The broker's options are invalid: {string.Join(" ", failures)}");
        }
    }

    private static string Where(IConfiguration section) => section is IConfigurationSection s ? $"section '{s.Path}'" : "the configuration";
}
