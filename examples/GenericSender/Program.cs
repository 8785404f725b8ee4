// Seed 001's generic_client_sender.py in Switchboard's terms: registers a sender declaring its events and triggers
// them: once with --data, or once per line read from stdin (until end of input). DATA that is JSON (42, {"a":1}) is
// sent as it is, other text as a JSON string, an empty line as no data (the seed's 'tac' with None). Each trigger
// goes to every --event given, in order, and prints 'triggered: SENDER EVENT DATA'.
//
//   dotnet run --project examples/GenericSender -- --server sb://127.0.0.1:7222 --sender mysender --event tick --data 1
//   seq 5 | dotnet run --project examples/GenericSender -- --sender mysender --event tick --event tac
using System.CommandLine;
using System.Text.Json;
using Switchboard;

var server = new Option<string>("--server") { Description = "The broker's address.", HelpName = "URL", DefaultValueFactory = _ => "sb://127.0.0.1:7222" };
var sender = new Option<string>("--sender", "-s") { Description = "The sender to register (unique on the bus while this runs).", HelpName = "SENDER", DefaultValueFactory = _ => "mysender" };
var events = new Option<string[]>("--event", "-e") { Description = "An event to declare and trigger; repeat it for several (each trigger goes to all, in order).", HelpName = "EVENT", DefaultValueFactory = _ => ["tick"], AllowMultipleArgumentsPerToken = false };
var data = new Option<string?>("--data", "-d") { Description = "Trigger once with this data; omitted: once per line of stdin.", HelpName = "DATA" };

var root = new RootCommand("Seed 001's generic sender: registers --sender declaring --event(s) and triggers them with --data, or with each line of stdin.")
{
    server, sender, events, data,
};
root.SetAction((result, ct) => SendAsync(result.GetValue(server)!, result.GetValue(sender)!, result.GetValue(events)!, result.GetValue(data), ct));
return await root.Parse(args).InvokeAsync();

static async Task<int> SendAsync(string server, string name, string[] events, string? data, CancellationToken ct)
{
    try
    {
        await using var bus = await BusClient.ConnectAsync(server, new BusClientOptions { ClientName = "generic sender" }, ct);
        await using var sender = await bus.AddSenderAsync(name, events, cancellationToken: ct);
        if (data is not null)
        {
            await TriggerAsync(sender, events, data, ct);
        }
        else
        {
            while (await Console.In.ReadLineAsync(ct) is { } line)
            {
                await TriggerAsync(sender, events, line, ct);
            }
        }

        await bus.FlushAsync(ct); // everything triggered has reached the broker before the sender leaves
        return 0;
    }
    catch (SwitchboardException ex)
    {
        await Console.Error.WriteLineAsync($"error: {ex.Code}: {ex.Message.ReplaceLineEndings(" ")}");
        return 1;
    }
    catch (OperationCanceledException)
    {
        return 0; // Ctrl+C or SIGTERM
    }
}

static async Task TriggerAsync(ISender sender, string[] events, string text, CancellationToken ct)
{
    var payload = ToPayload(text);
    foreach (var @event in events)
    {
        await sender.TriggerAsync(@event, payload, cancellationToken: ct);
        Console.WriteLine(payload.IsEmpty ? $"triggered: {sender.Name} {@event}" : $"triggered: {sender.Name} {@event} {payload}");
    }
}

// JSON as it is, other text as a JSON string, nothing as no data.
static Payload ToPayload(string text)
{
    if (text.Length == 0)
    {
        return Payload.Empty;
    }

    try
    {
        using var _ = JsonDocument.Parse(text);
        return Payload.Utf8(text);
    }
    catch (JsonException)
    {
        return Payload.Utf8(JsonSerializer.Serialize(text));
    }
}
