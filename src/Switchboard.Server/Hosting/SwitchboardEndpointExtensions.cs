using Microsoft.Extensions.DependencyInjection;
using Switchboard;
using Switchboard.Server;

namespace Microsoft.AspNetCore.Builder;

/// <summary><c>app.MapSwitchboard()</c>: the broker's HTTP surface on the application.</summary>
public static class SwitchboardEndpointExtensions
{
    /// <summary>Maps the broker's HTTP surface (<see cref="HttpEndpoints"/>: the binary protocol over WebSocket at
    /// <c>/ws</c>, <c>/healthz</c>, the HTTP gateway and the dashboard at <c>/</c>) onto the application, beside its
    /// own endpoints. Needs <c>services.AddSwitchboardBroker()</c>.</summary>
    /// <param name="app">The application.</param>
    public static WebApplication MapSwitchboard(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var broker = app.Services.GetService<Broker>()
            ?? throw SwitchboardException.FromCode(ErrorCodes.InvalidOptions, "MapSwitchboard maps a broker's endpoints, and this application has none: call builder.Services.AddSwitchboardBroker() before building it.");
        HttpEndpoints.Map(app, broker);
        return app;
    }
}
