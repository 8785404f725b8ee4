// Typed events with source-generated JSON: each payload is written and read with a JsonTypeInfo from ShopJson (a
// JsonSerializerContext), so nothing is reflected on at run time and the JSON on the wire is the web default
// (camelCase) that the JSON-lines gateway, the HTTP gateway and the Python client see. In process by default, or on
// a broker:
//
//   dotnet run --project examples/Switchboard.Examples.TypedEvents
//   dotnet run --project examples/Switchboard.Examples.TypedEvents -- --server sb://127.0.0.1:7222
using Switchboard;
using Switchboard.Examples.TypedEvents;

await using IBus bus = args is ["--server", var server]
    ? await BusClient.ConnectAsync(server, new BusClientOptions { ClientName = "typed events example" })
    : new LocalBus();

var stock = new Dictionary<string, int> { ["espresso"] = 7, ["tea"] = 0 };

// A sender whose request takes a StockQuery and answers a StockLevel.
await using var shop = await bus.AddSenderAsync("shop", ["#order_placed"], new()
{
    ["stock"] = (request, ct) =>
    {
        var query = request.Data.As(ShopJson.Default.StockQuery) ?? throw new ArgumentException("stock needs {\"item\": ...}");
        var level = new StockLevel(query.Item, stock.GetValueOrDefault(query.Item));
        return ValueTask.FromResult(Payload.Json(level, ShopJson.Default.StockLevel));
    },
});
await using var orders = await bus.ListenAsync("shop", "#order_placed");

await shop.TriggerAsync("#order_placed", Payload.Json(new OrderPlaced(1, "espresso", 2), ShopJson.Default.OrderPlaced));
var message = await orders.ReadAsync();
var order = message.Data.As(ShopJson.Default.OrderPlaced)!;
Console.WriteLine($"[event] {message.Sender}/{message.Event} {message.Data}");
Console.WriteLine($"[event] order {order.Id}: {order.Quantity} x {order.Item}");

var answer = await bus.RequestAsync("shop", "stock", ShopJson.Default.StockLevel, Payload.Json(new StockQuery("espresso"), ShopJson.Default.StockQuery));
Console.WriteLine($"[request] {answer!.Item}: {answer.InStock} in stock");
