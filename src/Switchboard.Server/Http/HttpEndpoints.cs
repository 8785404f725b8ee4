using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Switchboard.Server.Http;

namespace Switchboard.Server;

/// <summary>The broker's HTTP surface: the binary protocol over WebSocket at <c>/ws</c>, <c>/healthz</c>, and the HTTP gateway
/// (SSE at <c>/events</c>, <c>/publish</c>, <c>/request</c>, <c>/gather</c>, <c>/senders</c>, <c>/metrics</c>, the dashboard at <c>/</c>).</summary>
public static class HttpEndpoints
{
    /// <summary>Maps the broker's HTTP endpoints onto <paramref name="app"/>.</summary>
    /// <param name="app">The ASP.NET Core application.</param>
    /// <param name="broker">The broker they serve.</param>
    public static void Map(WebApplication app, Broker broker)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(broker);
        var browsers = new BrowserGuard(broker.Options.Security.Browser);
        broker.SecurityReloaded += (_, security) => browsers.Reload(security.Browser);
        app.Use(browsers.InvokeAsync); // before everything: a refused page reaches no endpoint, WebSocket upgrades included
        app.UseWebSockets();
        app.Map("/ws", context => ServeWebSocketAsync(context, broker));
        app.MapGet("/healthz", () => broker.IsShuttingDown
            ? Results.Text("shutting down", statusCode: StatusCodes.Status503ServiceUnavailable)
            : broker.HealthProblem?.Invoke() is { } problem
                ? Results.Text(problem, statusCode: StatusCodes.Status503ServiceUnavailable)
                : Results.Text("ok"));
        var gateway = new HttpGateway(broker, app.Lifetime.ApplicationStopping);
        gateway.Map(app);
    }

    /// <summary>One WebSocket is one binary-protocol connection: frames travel in binary messages, as a byte stream.</summary>
    private static async Task ServeWebSocketAsync(HttpContext context, Broker broker)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("This endpoint speaks the binary protocol over WebSocket; connect with a WebSocket client (BusClient accepts ws:// addresses).");
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        await using var stream = WebSocketStream.Create(socket, WebSocketMessageType.Binary, ownsWebSocket: false);
        await broker.ServeAsync($"ws:{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort}", stream, lossy: false, endOutput: EndOutputAsync, carrier: context.Connection);

        // The close handshake, so a client reads a clean close after the broker's last frame rather than a reset.
        async Task EndOutputAsync(CancellationToken cancellationToken)
        {
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "closed", cancellationToken);
            }
        }
    }
}
