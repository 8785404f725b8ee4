// An ASP.NET Core app with a broker inside: AddSwitchboardBroker() and MapSwitchboard() are the two lines. The app
// keeps its own endpoint, POST /orders, which publishes '#order_placed' through the injected IBus (the broker's own
// in-process bus), so every client of the broker hears it: binary clients on sb://127.0.0.1:7222, browsers and
// scripts on this app's port (/ws, /events, the dashboard at /).
//
//   dotnet run --project examples/Switchboard.Examples.WebApp -- --urls http://127.0.0.1:5080
//   switchboard sub --server sb://127.0.0.1:7222 --event '#order_placed'          # another terminal
//   curl -X POST http://127.0.0.1:5080/orders -H 'content-type: application/json' -d '{"item":"espresso","quantity":2}'
//
// '--SwitchboardBroker:Port 0' picks a free port for the broker; the app prints every address it listens on.
using Switchboard.Examples.WebApp;
using Switchboard.Server;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddSwitchboardBroker(builder.Configuration.GetSection("SwitchboardBroker"));
builder.Services.AddSingleton<Shop>();
builder.Services.AddHostedService(services => services.GetRequiredService<Shop>());

var app = builder.Build();
app.MapPost("/orders", async (Order order, Shop shop, CancellationToken cancellationToken) =>
{
    await shop.PlaceAsync(order, cancellationToken);
    return Results.Accepted();
});
app.MapSwitchboard();
app.Lifetime.ApplicationStarted.Register(() =>
{
    foreach (var address in app.Services.GetRequiredService<BrokerEndpoints>().Addresses)
    {
        Console.WriteLine($"listening: {address}");
    }
});
app.Run();
