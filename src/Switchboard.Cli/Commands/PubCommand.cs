using System.CommandLine;

namespace Switchboard.Cli.Commands;

/// <summary><c>switchboard pub SENDER EVENT [DATA]</c>: registers SENDER declaring EVENT, triggers it, flushes and leaves.</summary>
public static class PubCommand
{
    public static Command Create()
    {
        var sender = new Argument<string>("SENDER") { Description = "The sender to register and publish as (unique on the bus while it runs)." };
        var @event = new Argument<string>("EVENT") { Description = "The event to trigger: a name such as sensors.kitchen.temp, or a channel event such as #temperature." };
        var data = new Argument<string?>("DATA")
        {
            Description = "The data: sent as it is when it is JSON (42, {\"a\":1}, \"text\"), otherwise as a JSON string (hello becomes \"hello\"). None: an empty payload.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var count = new Option<int>("--count", "-n") { Description = "How many times to trigger.", DefaultValueFactory = _ => 1, HelpName = "N" };
        count.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("--count must be at least 1.");
            }
        });
        var interval = new Option<int>("--interval-ms") { Description = "Wait this long between triggers (each is then flushed before the next).", HelpName = "MS" };
        interval.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 0)
            {
                result.AddError("--interval-ms cannot be negative.");
            }
        });
        var retain = new Option<bool>("--retain") { Description = "Keep it as the event's retained value: listeners that register later receive it at once (empty DATA clears it). The bus drops a sender's retained values when it leaves: add --stay." };
        var stay = new Option<bool>("--stay") { Description = "After publishing, stay online as SENDER (its retained values and presence last) until Ctrl+C or SIGTERM." };
        var raw = new Option<bool>("--raw") { Description = "Send DATA's UTF-8 bytes as they are, JSON or not." };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing on success." };
        var server = BusConnection.ServerOption();

        var command = new Command("pub", "Publishes an event as SENDER: registers it declaring EVENT, triggers it (--count times), waits until the broker has it all, and exits 0. Prints 'published SENDER/EVENT' per message.")
        {
            sender, @event, data, count, interval, retain, stay, raw, quiet, server,
        };
        command.With(
            "switchboard pub kitchen '#temperature' 21.5",
            "switchboard pub door sensors.door.state '{\"open\":true}'",
            "switchboard pub greeter '#say' hello  # not JSON: sent as the string \"hello\"",
            "switchboard pub ticker tick --count 10 --interval-ms 100",
            "switchboard pub tank '#level' 7 --retain --stay  # later listeners get 7 at once");
        command.SetAction((result, _) => RunAsync(
            result.GetValue(server),
            result.GetValue(sender)!,
            result.GetValue(@event)!,
            DataFormat.FromArgument(result.GetValue(data), result.GetValue(raw)),
            result.GetValue(count),
            result.GetValue(interval),
            result.GetValue(retain),
            result.GetValue(stay),
            result.GetValue(quiet)));
        return command;
    }

    private static async Task<int> RunAsync(string[]? servers, string name, string @event, Payload data, int count, int intervalMs, bool retain, bool stay, bool quiet)
    {
        using var shutdown = new Shutdown();
        var ct = shutdown.Token;
        await using var bus = await BusConnection.ConnectAsync(servers, $"switchboard pub {name}", ct);
        await using var sender = await bus.AddSenderAsync(name, [@event], cancellationToken: ct);
        var unconfirmed = 0;
        for (var i = 0; i < count; i++)
        {
            if (i > 0 && intervalMs > 0)
            {
                await Task.Delay(intervalMs, ct);
            }

            await sender.TriggerAsync(@event, data, retain: retain, cancellationToken: ct);
            unconfirmed++;
            if (intervalMs > 0 || i == count - 1)
            {
                // "published" is only said of what the broker has (FlushAsync returns once it processed everything sent before).
                await bus.FlushAsync(ct);
                for (; unconfirmed > 0; unconfirmed--)
                {
                    if (!quiet)
                    {
                        await Console.Out.WriteLineAsync($"published {name}/{@event}");
                    }
                }
            }
        }

        if (stay)
        {
            await Console.Error.WriteLineAsync($"staying online as {name} (Ctrl+C or SIGTERM to leave)");
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
        }

        return ExitCodes.Ok;
    }
}
