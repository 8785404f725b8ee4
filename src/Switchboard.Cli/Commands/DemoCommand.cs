using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Switchboard.Server;

namespace Switchboard.Cli.Commands;

/// <summary><c>switchboard demo</c>: a broker, a timer sender and a listener in one process, each over its own
/// connection, so one command shows an event going from a sender through a broker to a listener.</summary>
public static class DemoCommand
{
    private const string SenderName = "timer";
    private const string EventName = "tick";

    public static Command Create()
    {
        var port = new Option<int>("--port", "-p")
        {
            Description = "The demo broker's TCP port; 0 (the default) picks any free port.",
            HelpName = "PORT",
        };
        port.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 0 or > 65535)
            {
                result.AddError("--port must be 0 to 65535 (0 picks any free port).");
            }
        });
        var interval = new Option<int>("--interval-ms") { Description = "How often the timer triggers 'tick'.", DefaultValueFactory = _ => 1000, HelpName = "MS" };
        interval.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("--interval-ms must be at least 1.");
            }
        });
        var count = new Option<int?>("--count", "-n") { Description = "Stop, exit 0, after N ticks were sent and received.", HelpName = "N" };
        count.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1)
            {
                result.AddError("--count must be at least 1.");
            }
        });
        var duration = new Option<double?>("--duration") { Description = "Stop, exit 0, after this many seconds.", HelpName = "SECONDS" };
        duration.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double?>() is <= 0)
            {
                result.AddError("--duration must be more than 0 seconds.");
            }
        });

        var command = new Command("demo", $"Starts a broker in this process, a sender '{SenderName}' that triggers '{EventName}' every --interval-ms and a listener that prints each one, and tells how to join from another shell. Runs until Ctrl+C, --count ticks or --duration seconds; exits 0.")
        {
            port, interval, count, duration,
        };
        command.With(
            "switchboard demo  # one tick a second until Ctrl+C",
            "switchboard demo --count 5 --interval-ms 200",
            "switchboard demo --port 7222 --duration 30  # then, elsewhere: switchboard sub --sender timer");
        command.SetAction((result, _) => RunAsync(result.GetValue(port), TimeSpan.FromMilliseconds(result.GetValue(interval)), result.GetValue(count), result.GetValue(duration)));
        return command;
    }

    private static async Task<int> RunAsync(int port, TimeSpan interval, int? count, double? durationSeconds)
    {
        using var shutdown = new Shutdown();
        var output = new StyledLines();
        await using var broker = await StartBrokerAsync(port, shutdown.Token);
        var address = broker.TcpAddress!;
        output.Write($"broker: listening on {address} (in this process)", Color.Yellow);

        // Straight to its own broker: SWITCHBOARD_CREDENTIALS (meant for a real one) does not apply here.
        await using var listenerClient = await BusClient.ConnectAsync(address, new BusClientOptions { ClientName = "switchboard demo listener" }, shutdown.Token);
        await using var queue = await listenerClient.ListenAsync(SenderName, EventName, cancellationToken: shutdown.Token);
        output.Write($"listener: subscribed to {SenderName}/{EventName}", Color.Yellow);

        await using var senderClient = await BusClient.ConnectAsync(address, new BusClientOptions { ClientName = "switchboard demo timer" }, shutdown.Token);
        await using var sender = await senderClient.AddSenderAsync(SenderName, [EventName], cancellationToken: shutdown.Token);
        output.Write(string.Create(CultureInfo.InvariantCulture, $"{SenderName}: triggering {EventName} every {interval.TotalMilliseconds:0} ms; from another shell: switchboard sub --server {address} --sender {SenderName}"), Color.Yellow);

        // The duration counts from here: a slow start (a loaded machine) does not eat into the ticks.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(shutdown.Token);
        if (durationSeconds is { } seconds)
        {
            stop.CancelAfter(TimeSpan.FromSeconds(seconds));
        }

        var ct = stop.Token;
        var sending = SendTicksAsync(sender, interval, count, output, ct);
        var received = await ReceiveTicksAsync(queue, count, output, ct);
        var sent = await sending;
        output.Write($"demo: {sent} tick(s) sent, {received} received; stopping", Color.Yellow);
        return ExitCodes.Ok;
    }

    private static async Task<BrokerHost> StartBrokerAsync(int port, CancellationToken cancellationToken)
    {
        try
        {
            // Only the binary protocol: the demo must not take the JSON-lines and HTTP ports a real broker may need.
            return await BrokerHost.StartAsync(
                new BrokerOptions { Port = port, JsonLinesPort = null, HttpPort = null },
                logging: builder => LogLevels.ConfigureConsole(builder, LogLevel.Warning),
                cancellationToken: cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            var reason = (ex.InnerException ?? ex).Message.ReplaceLineEndings(" ");
            throw new CliException(ExitCodes.Usage, $"could not start the demo broker on port {port}: {reason} (--port 0 picks any free port)");
        }
    }

    private static async Task<int> SendTicksAsync(ISender sender, TimeSpan interval, int? count, StyledLines output, CancellationToken ct)
    {
        var sent = 0;
        try
        {
            using var timer = new PeriodicTimer(interval);
            do
            {
                var data = Tick(sent + 1);
                await sender.TriggerAsync(EventName, Payload.Utf8(data), cancellationToken: ct);
                sent++;
                output.Write($"sent:     {SenderName}/{EventName} {data}", Color.Aqua);
            }
            while (sent != count && await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }

        return sent;
    }

    private static async Task<int> ReceiveTicksAsync(IListenerQueue queue, int? count, StyledLines output, CancellationToken ct)
    {
        var received = 0;
        try
        {
            await foreach (var message in queue.ReadAllAsync(ct))
            {
                output.Write($"received: {message.Sender}/{message.Event} {DataFormat.OneLine(message.Data)}", Color.Green);
                if (++received == count)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }

        return received;
    }

    private static string Tick(int number) => DataFormat.JsonLine(writer =>
    {
        writer.WriteStartObject();
        writer.WriteNumber("n", number);
        writer.WriteString("at", DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture));
        writer.WriteEndObject();
    });
}
