// The one-minute tour of Switchboard, in process: a timer sender, listeners, a request, presence and a
// scatter-gather with a deadline. README quotes this file. Runs until Ctrl+C, or for --ticks N ticks.
using Switchboard;

var ticksToRun = args.Length == 2 && args[0] == "--ticks" ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : int.MaxValue;
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

await using IBus bus = new LocalBus();

// Presence: the bus announces every sender that comes and goes.
await using var presence = await bus.ListenAsync(null, "#connect", m => Console.WriteLine($"[presence] {m.Sender} is online: {m.Data}"));

// A sender declares what it triggers and what it answers.
var ticks = 0;
await using var timer = await bus.AddSenderAsync("timer", ["tick", "#temperature"], new()
{
    ["get_ticks"] = (request, ct) => ValueTask.FromResult(Payload.Json(ticks)),
});

// A targeted listener (this sender, this event) and a channel listener (any sender).
await using var onTick = await bus.ListenAsync("timer", "tick", m => Console.WriteLine($"[listener] {m.Sender}/{m.Event} = {m.As<int>()}"));
await using var temperatures = await bus.ListenAsync(sender: null, "#temperature");

// Producers answer a gather; the slow one misses the deadline.
await using var fast = await bus.AddProducerAsync("prices", (r, ct) => ValueTask.FromResult(Payload.Json(42.0)), new ProducerOptions { Name = "fast-shop" });
await using var slow = await bus.AddProducerAsync("prices", async (r, ct) =>
{
    await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
    return Payload.Json(39.0);
}, new ProducerOptions { Name = "slow-shop" });

var gather = bus.GatherAsync("prices", Payload.Json("espresso"), ttl: TimeSpan.FromMilliseconds(300));
await foreach (var result in gather)
{
    Console.WriteLine($"[gather] {result.Producer} offers {result.Data.As<double>()}");
}

var summary = await gather.Summary;
Console.WriteLine($"[gather] answered: {string.Join(", ", summary.Answered)}; missing: {string.Join(", ", summary.Missing)}");

while (!stop.IsCancellationRequested && ticks < ticksToRun)
{
    ticks++;
    await timer.TriggerAsync("tick", Payload.Json(ticks));
    await timer.TriggerAsync("#temperature", Payload.Json(20 + (ticks % 3)));
    var reading = await temperatures.ReadAsync();
    Console.WriteLine($"[queue] {reading.Sender}/{reading.Event} = {reading.As<int>()}");
    Console.WriteLine($"[request] timer answers get_ticks = {await bus.RequestAsync<int>("timer", "get_ticks")}");
    try
    {
        await Task.Delay(TimeSpan.FromSeconds(1), stop.Token);
    }
    catch (OperationCanceledException)
    {
        break;
    }
}
