// Seed 001's generic_client_listener.py in Switchboard's terms: listens to a sender's event and prints each message as
// one line, 'SENDER EVENT DATA'. Either may be omitted, as the seed suggests trying with None:
//   --sender timer --event tick   tick from timer only
//   --sender timer                every event timer triggers (the seed's sender broadcast)
//   --event '#temperature'        a channel event from every sender
//   (neither)                     everything that passes through the bus (the seed's router broadcast)
// A line 'listening: ...' on stderr says when it is registered; --count N exits after N messages.
//
//   dotnet run --project examples/GenericListener -- --server sb://127.0.0.1:7222 --sender timer --event tick
using System.CommandLine;
using Switchboard;

var server = new Option<string>("--server") { Description = "The broker's address.", HelpName = "URL", DefaultValueFactory = _ => "sb://127.0.0.1:7222" };
var sender = new Option<string?>("--sender", "-s") { Description = "The sender to listen to; omitted: any sender.", HelpName = "SENDER" };
var @event = new Option<string?>("--event", "-e") { Description = "The event (pattern) to listen to; omitted: any event. With no --sender it must be a #channel event, or omitted too.", HelpName = "EVENT" };
var count = new Option<int?>("--count", "-n") { Description = "Exit after N messages (default: run until Ctrl+C).", HelpName = "N" };
count.Validators.Add(r =>
{
    if (r.GetValueOrDefault<int?>() is < 1)
    {
        r.AddError("--count must be at least 1");
    }
});

var root = new RootCommand("Seed 001's generic listener: prints 'SENDER EVENT DATA' for each message of --sender's --event (either omitted: any).")
{
    server, sender, @event, count,
};
root.SetAction((result, ct) => ListenAsync(result.GetValue(server)!, result.GetValue(sender), result.GetValue(@event), result.GetValue(count), ct));
return await root.Parse(args).InvokeAsync();

static async Task<int> ListenAsync(string server, string? sender, string? @event, int? count, CancellationToken ct)
{
    try
    {
        await using var bus = await BusClient.ConnectAsync(server, new BusClientOptions { ClientName = "generic listener" }, ct);
        await using var queue = await bus.ListenAsync(sender, @event, cancellationToken: ct);
        await Console.Error.WriteLineAsync($"listening: sender={sender ?? "any"} event={@event ?? "any"} on {bus.ConnectedAddress}");
        await PrintAsync(queue, count, ct);
        return 0;
    }
    catch (SwitchboardException ex)
    {
        await Console.Error.WriteLineAsync($"error: {ex.Code}: {ex.Message.ReplaceLineEndings(" ")}");
        return 1;
    }
}

static async Task PrintAsync(IListenerQueue queue, int? count, CancellationToken ct)
{
    var received = 0;
    try
    {
        await foreach (var message in queue.ReadAllAsync(ct))
        {
            var data = message.Data.ToString().ReplaceLineEndings(" ");
            Console.WriteLine(data.Length == 0 ? $"{message.Sender} {message.Event}" : $"{message.Sender} {message.Event} {data}");
            if (++received == count)
            {
                return;
            }
        }
    }
    catch (OperationCanceledException)
    {
        // Ctrl+C or SIGTERM
    }
}
