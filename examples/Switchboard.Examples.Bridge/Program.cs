// A process with its own in-process bus, bridged both ways to a broker on the '#chain.>' channel events.
//
//   dotnet run --project examples/Switchboard.Examples.Bridge -- sb://127.0.0.1:7222 site-b
//
// Its sender (named after the second argument) triggers '#chain.NAME'; its listener prints every '#chain.>' event
// it sees, from its own sender or from anywhere behind the broker: "recv SENDER EVENT DATA via=BRIDGES".
// Commands on stdin: "send N" triggers 1..N, "mark" triggers 0, "stats" prints what it saw and what its bridge
// counted, "quit" (or the end of stdin) disposes everything and exits 0.
using System.Globalization;
using Switchboard;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: Switchboard.Examples.Bridge BROKER-ADDRESS [NAME]");
    return 2;
}

var name = args.Length > 1 ? args[1] : "site-b";
await using var local = new LocalBus();
await using var remote = await BusClient.ConnectAsync(args[0], new BusClientOptions { ClientName = $"{name}-bridge" });
var route = new BridgeRoute { Events = ["#chain.>"] };
await using var bridge = await local.BridgeAsync(remote, new BridgeOptions { Name = $"{name}-bridge", Outbound = route, Inbound = route });
bridge.Error += (_, error) => Console.Error.WriteLine($"bridge error: {error.Message}");

var app = local.Connect();
var seen = new Dictionary<string, int>(StringComparer.Ordinal);
await using var listener = await app.ListenAsync(null, "#chain.>", message =>
{
    lock (seen)
    {
        seen[message.Sender] = seen.GetValueOrDefault(message.Sender) + 1;
    }

    Console.WriteLine($"recv {message.Sender} {message.Event} {message.Data} via={message.Headers[BridgeHeaders.Via] ?? "-"}");
});
await using var sender = await app.AddSenderAsync(name, [$"#chain.{name}"]);
Console.WriteLine("ready");

while (Console.ReadLine() is { } line)
{
    var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    switch (words.FirstOrDefault())
    {
        case "send":
            var count = int.Parse(words[1], CultureInfo.InvariantCulture);
            for (var i = 1; i <= count; i++)
            {
                await sender.TriggerAsync($"#chain.{name}", Payload.Json(i));
            }

            break;
        case "mark":
            await sender.TriggerAsync($"#chain.{name}", Payload.Json(0));
            break;
        case "stats":
            lock (seen)
            {
                var counts = string.Join(' ', seen.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}={s.Value}"));
                Console.WriteLine($"stats {counts} forwarded={bridge.Forwarded} dropped={bridge.Dropped} skipped={bridge.Outbound.Skipped + bridge.Inbound.Skipped}");
            }

            break;
        case "quit":
            return 0;
        default:
            Console.Error.WriteLine($"unknown command: {line}");
            break;
    }
}

return 0;
