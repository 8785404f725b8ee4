// Seed 001's generic_server.py in Switchboard's terms: a broker (BrokerHost, started the way `switchboard serve` starts
// it) with a pre-registered sender 'timer' that triggers 'tick' every 5 seconds; the data is a counter (1, 2, 3, ...).
// The names and the period are flags. Prints 'listening: sb://HOST:PORT' once clients can connect (so --port 0 works
// from scripts), then 'triggered: SENDER EVENT N' per tick; Ctrl+C or SIGTERM stops it as a lame duck.
//
//   dotnet run --project examples/GenericServer -- --port 7222 --sender timer --event tick --period 5
using System.CommandLine;
using System.Globalization;
using System.Net;
using Switchboard;
using Switchboard.Server;

var host = new Option<string>("--host") { Description = "The address to listen on (127.0.0.1, 0.0.0.0, ::1 or any IP address).", HelpName = "ADDRESS", DefaultValueFactory = _ => "127.0.0.1" };
host.Validators.Add(r => Check(r, IPAddress.TryParse(r.GetValueOrDefault<string>(), out _), "--host must be an IP address such as 127.0.0.1"));
var port = new Option<int>("--port", "-p") { Description = "The TCP port (sb://HOST:PORT); 0 picks any free port.", HelpName = "PORT", DefaultValueFactory = _ => BusAddress.DefaultPort };
port.Validators.Add(r => Check(r, r.GetValueOrDefault<int>() is >= 0 and <= 65535, "--port must be 0 to 65535 (0 picks any free port)"));
var sender = new Option<string>("--sender", "-s") { Description = "The pre-registered sender's name.", HelpName = "SENDER", DefaultValueFactory = _ => "timer" };
var @event = new Option<string>("--event", "-e") { Description = "The event it triggers.", HelpName = "EVENT", DefaultValueFactory = _ => "tick" };
var period = new Option<double>("--period") { Description = "Seconds between ticks (0.5 is fine).", HelpName = "SECONDS", DefaultValueFactory = _ => 5 };
period.Validators.Add(r => Check(r, r.GetValueOrDefault<double>() is > 0 and <= 86_400, "--period must be more than 0 and at most 86400 seconds"));

var root = new RootCommand("Seed 001's generic server: a broker with a pre-registered sender that triggers an event every --period seconds, its data a counter.")
{
    host, port, sender, @event, period,
};
root.SetAction((result, ct) => ServeAsync(
    new BrokerOptions { Host = result.GetValue(host)!, Port = result.GetValue(port) },
    result.GetValue(sender)!,
    result.GetValue(@event)!,
    TimeSpan.FromSeconds(result.GetValue(period)),
    ct));
return await root.Parse(args).InvokeAsync();

static void Check(System.CommandLine.Parsing.OptionResult result, bool ok, string error)
{
    if (!ok)
    {
        result.AddError(error);
    }
}

// Starts the broker with the timer registered before any client can connect, ticks until Ctrl+C, then stops.
static async Task<int> ServeAsync(BrokerOptions options, string senderName, string eventName, TimeSpan period, CancellationToken ct)
{
    BrokerHost.UseInlineSocketCompletions(); // this process is a broker and a timer: nothing here blocks a socket thread
    ISender? timer = null;
    BrokerHost broker;
    try
    {
        broker = await BrokerHost.StartAsync(options, beforeListening: async b => timer = await b.Bus.AddSenderAsync(senderName, [eventName], cancellationToken: ct), cancellationToken: ct);
    }
    catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or SwitchboardException)
    {
        await Console.Error.WriteLineAsync($"error: {(ex.InnerException ?? ex).Message.ReplaceLineEndings(" ")}");
        return 2;
    }

    await using (broker)
    {
        foreach (var endpoint in broker.Endpoints)
        {
            Console.WriteLine($"listening: {endpoint}");
        }

        await TickAsync(timer!, eventName, period, ct);
        await timer!.DisposeAsync();
        await broker.StopAsync(CancellationToken.None);
    }

    Console.WriteLine("stopped");
    return 0;
}

// The seed's main loop: count, trigger, sleep.
static async Task TickAsync(ISender timer, string eventName, TimeSpan period, CancellationToken ct)
{
    using var ticks = new PeriodicTimer(period);
    var count = 0;
    try
    {
        while (await ticks.WaitForNextTickAsync(ct))
        {
            count++;
            await timer.TriggerAsync(eventName, Payload.Json(count), cancellationToken: ct);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"triggered: {timer.Name} {eventName} {count}"));
        }
    }
    catch (OperationCanceledException)
    {
        // Ctrl+C or SIGTERM
    }
}
