using System.CommandLine;

namespace Switchboard.Cli.Commands;

/// <summary><c>switchboard sub</c>: prints each event as it comes, one line each, and nothing else on stdout.</summary>
public static class SubCommand
{
    public static Command Create()
    {
        var sender = new Option<string?>("--sender", "-s") { Description = "Only events of this sender (default: any sender; then --event must be a #channel event, or omitted for everything).", HelpName = "SENDER" };
        var @event = new Option<string?>("--event", "-e") { Description = "An event pattern: * matches one token, > the rest (sensors.*.temp, #alerts.>). Default: any event.", HelpName = "PATTERN" };
        var json = new Option<bool>("--json") { Description = "One JSON object per line: {\"sender\":...,\"event\":...,\"data\":...} (data as JSON when it is JSON, else a string)." };
        var count = new Option<int?>("--count", "-n") { Description = "Exit 0 after N messages.", HelpName = "N" };
        count.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1)
            {
                result.AddError("--count must be at least 1.");
            }
        });
        var group = new Option<string?>("--group", "-g") { Description = "A queue group: subscribers in the same group share the messages, each going to one of them.", HelpName = "GROUP" };
        var stats = new Option<bool>("--stats") { Description = "Instead of the messages, their rates about once a second: 'rate: N msgs/s, N KiB/s; total: N msgs, N MiB' (payload bytes), live on one line at a terminal, one line per second when redirected; a summary at the end." };
        var server = BusConnection.ServerOption();

        var command = new Command("sub", "Subscribes and prints each message as it comes: 'SENDER EVENT DATA' (or --json). Status lines, such as 'listening: ...' once registered, go to stderr. Ctrl+C or SIGTERM exits 0.")
        {
            sender, @event, json, count, group, stats, server,
        };
        command.With(
            "switchboard sub  # everything, from every sender",
            "switchboard sub --event '#temperature'",
            "switchboard sub --sender kitchen --event 'sensors.*.temp' --json",
            "switchboard sub --event 'orders.>' --group workers  # share the messages with other members",
            "switchboard sub --count 1 --event '#level'  # wait for one, then exit",
            "switchboard sub --stats --event 'metrics.>'  # rates instead of messages");
        command.SetAction((result, _) => RunAsync(
            result.GetValue(server),
            result.GetValue(sender),
            result.GetValue(@event),
            result.GetValue(json),
            result.GetValue(count),
            result.GetValue(group),
            result.GetValue(stats)));
        return command;
    }

    private static async Task<int> RunAsync(string[]? servers, string? sender, string? @event, bool json, int? count, string? group, bool stats)
    {
        using var shutdown = new Shutdown();
        var ct = shutdown.Token;
        await using var bus = await BusConnection.ConnectAsync(servers, "switchboard sub", ct);
        BusConnection.ReportConnectionChanges(bus);
        var options = group is null ? null : new ListenerOptions { Group = group };
        await using var queue = await bus.ListenAsync(sender, @event, options, ct);
        await Console.Error.WriteLineAsync($"listening: sender={sender ?? "any"} event={@event ?? "any"}{(group is null ? "" : $" group={group}")} on {bus.ConnectedAddress}");
        if (stats)
        {
            await SubscriptionStats.RunAsync(queue, count, ct);
            return ExitCodes.Ok;
        }

        var received = 0;
        try
        {
            await foreach (var message in queue.ReadAllAsync(ct))
            {
                await Console.Out.WriteLineAsync(json ? Json(message) : Text(message));
                await Console.Out.FlushAsync(ct);
                if (++received == count)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }

        return ExitCodes.Ok;
    }

    private static string Text(BusMessage message) =>
        message.Data.IsEmpty ? $"{message.Sender} {message.Event}" : $"{message.Sender} {message.Event} {DataFormat.OneLine(message.Data)}";

    private static string Json(BusMessage message) => DataFormat.JsonLine(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("sender", message.Sender);
        writer.WriteString("event", message.Event);
        writer.WritePropertyName("data");
        DataFormat.WriteValue(writer, message.Data);
        writer.WriteEndObject();
    });
}
