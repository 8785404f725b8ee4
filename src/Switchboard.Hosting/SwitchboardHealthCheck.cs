using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Switchboard.Hosting;

/// <summary>
/// Healthy while the application's bus can carry messages: an in-process bus once started, a client while connected to
/// a broker. A client that lost its broker (and is reconnecting), or a bus not started or already stopped, is reported
/// with the registration's failure status and says which. Registered by <c>AddHealthChecks().AddSwitchboard()</c>.
/// </summary>
/// <param name="service">The hosted bus.</param>
public sealed class SwitchboardHealthCheck(SwitchboardBusService service) : IHealthCheck
{
    /// <summary>The name the check is registered under by default.</summary>
    public const string DefaultName = "switchboard";

    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var failure = context.Registration.FailureStatus;
        var data = new Dictionary<string, object>
        {
            ["kind"] = service.Client is null ? "local" : "client",
            ["offline_drops"] = service.Bus.Counters.OfflineDrops,
        };
        var result = service.State switch
        {
            HostedBusState.Created => new HealthCheckResult(failure, "The Switchboard bus is not started yet.", data: data),
            HostedBusState.Stopped => new HealthCheckResult(failure, "The Switchboard bus is stopped.", data: data),
            _ when service.Client is null => HealthCheckResult.Healthy("In-process bus (LocalBus).", data),
            _ when service.Client.ConnectedAddress is { } address => HealthCheckResult.Healthy($"Connected to {address}.", With(data, address)),
            _ => new HealthCheckResult(failure, $"Not connected to any broker of {service.Options.Broker}; reconnecting.", data: data),
        };
        return Task.FromResult(result);
    }

    private static Dictionary<string, object> With(Dictionary<string, object> data, string address)
    {
        data["broker"] = address;
        return data;
    }
}
