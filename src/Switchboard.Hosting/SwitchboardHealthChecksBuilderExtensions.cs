using Microsoft.Extensions.Diagnostics.HealthChecks;
using Switchboard.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary><c>services.AddHealthChecks().AddSwitchboard()</c>.</summary>
public static class SwitchboardHealthChecksBuilderExtensions
{
    /// <summary>Adds <see cref="SwitchboardHealthCheck"/> for the bus <c>AddSwitchboard</c> registered.</summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="failureStatus">What a disconnected, unstarted or stopped bus reports (Unhealthy by default).</param>
    /// <param name="tags">Tags to filter checks by (readiness, liveness).</param>
    public static IHealthChecksBuilder AddSwitchboard(this IHealthChecksBuilder builder, string name = SwitchboardHealthCheck.DefaultName, HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Add(new HealthCheckRegistration(name, static sp => new SwitchboardHealthCheck(sp.GetRequiredService<SwitchboardBusService>()), failureStatus, tags));
    }
}
