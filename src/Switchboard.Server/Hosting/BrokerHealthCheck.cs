using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Switchboard.Server;

/// <summary>
/// Healthy while the hosted broker serves clients; unhealthy (or the registration's failure status) before the host
/// started it and from the moment it goes lame duck, so a load balancer stops sending clients its way. Registered by
/// <c>AddHealthChecks().AddSwitchboardBroker()</c>; the data carries its connection and message counts.
/// </summary>
internal sealed class BrokerHealthCheck(Broker broker, BrokerService service) : IHealthCheck
{
    public const string DefaultName = "switchboard-broker";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>
        {
            ["connections"] = broker.ConnectionCount,
            ["messages_in"] = broker.MessagesIn,
            ["messages_out"] = broker.MessagesOut,
            ["slow_consumers"] = broker.SlowConsumers,
        };
        var failure = context.Registration.FailureStatus;
        var result = service.IsRunning
            ? HealthCheckResult.Healthy($"Serving {broker.ConnectionCount} connection(s).", data)
            : new HealthCheckResult(failure, service.IsStopped || broker.IsShuttingDown ? "The broker is shutting down." : "The broker is not started yet.", data: data);
        return Task.FromResult(result);
    }
}
