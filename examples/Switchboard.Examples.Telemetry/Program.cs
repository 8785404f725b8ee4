// OpenTelemetry in an application that listens: every message its callback runs is a 'process' span (CONSUMER),
// exported to the console, in the trace its sender began, whatever process that sender is in: the sender's span
// context rides in the message's traceparent header through the broker. Each message is also one line on stdout,
// 'received SENDER EVENT trace=TRACE_ID parent=SPAN_ID' (the parent is the sender's 'send' span).
//
//   dotnet run --project examples/Switchboard.Examples.Telemetry -- --server sb://127.0.0.1:7222 --sender timer --event tick --count 3
using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Switchboard;

var server = Option("--server") ?? "sb://127.0.0.1:7222";
var sender = Option("--sender");
var @event = Option("--event");
var count = int.TryParse(Option("--count"), out var n) && n > 0 ? n : int.MaxValue;

using var tracing = Sdk.CreateTracerProviderBuilder()
    .AddSource(SwitchboardTelemetry.ActivitySourceName)
    .AddConsoleExporter()
    .Build();

await using var bus = await BusClient.ConnectAsync(server, new BusClientOptions { ClientName = "telemetry example" });
var left = count;
var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
await using var listener = await bus.ListenAsync(sender, @event, (message, _) =>
{
    var span = Activity.Current; // the 'process' span this callback runs in
    Console.WriteLine($"received {message.Sender} {message.Event} trace={span?.TraceId} parent={span?.ParentSpanId}");
    if (Interlocked.Decrement(ref left) == 0)
    {
        done.TrySetResult();
    }

    return ValueTask.CompletedTask;
});
await Console.Error.WriteLineAsync($"listening: sender={sender ?? "any"} event={@event ?? "any"} on {bus.ConnectedAddress}");
await done.Task;
return 0;

string? Option(string name)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
}
