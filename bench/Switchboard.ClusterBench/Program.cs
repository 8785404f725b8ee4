using System.Globalization;
using Switchboard.ClusterBench;

// Every figure of one run is measured in this one process, one after the other, so they share the machine's load.
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine("usage: Switchboard.ClusterBench --a sb://NODE_A --b sb://NODE_B --redis HOST:PORT [--seconds 3] [--requests 5000] [--kill-pid PID --kill-address sb://NODE]");
    Console.Error.WriteLine(e.Message);
    return 2;
}

using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
var ct = timeout.Token;
var raw = await RawRedisThroughput.RunAsync(options.Redis, options.Duration, ct);
var oneNode = await BusThroughput.RunAsync(options.NodeA, options.NodeA, options.Duration, ct);
var crossNode = await BusThroughput.RunAsync(options.NodeA, options.NodeB, options.Duration, ct);
var oneNodeRequests = await RequestLatency.RunAsync(options.NodeA, options.NodeA, options.Requests, ct);
var crossNodeRequests = await RequestLatency.RunAsync(options.NodeA, options.NodeB, options.Requests, ct);

Console.WriteLine($"| measurement (16 B payloads, {options.Duration.TotalSeconds:0} s each, at most {BusThroughput.Window:N0} in flight) | result | vs baseline |");
Console.WriteLine("|---|---|---|");
Console.WriteLine($"| raw Redis PUBLISH/SUBSCRIBE (StackExchange.Redis, fire and forget) | {raw:N0} msg/s | baseline |");
Console.WriteLine($"| bus 1→1, both clients on one node | {oneNode:N0} msg/s | {oneNode / raw:0.00}x |");
Console.WriteLine($"| bus 1→1, across nodes through Redis | {crossNode:N0} msg/s | {crossNode / raw:0.00}x (vs one node {crossNode / oneNode:0.00}x) |");
Console.WriteLine($"| request, one node ({options.Requests} sequential) | {oneNodeRequests} | |");
Console.WriteLine($"| request, across nodes ({options.Requests} sequential) | {crossNodeRequests} | |");
if (options.KillPid is { } pid && options.KillAddress is { } address)
{
    var elapsed = await KillTimer.RunAsync(options.NodeA, address, pid, ct);
    Console.WriteLine($"| SIGKILL of a node process → #disconnect on the other | {elapsed.TotalMilliseconds.ToString("N0", CultureInfo.InvariantCulture)} ms | |");
}
return 0;
