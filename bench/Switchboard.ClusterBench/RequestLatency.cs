using System.Diagnostics;
using System.Globalization;

namespace Switchboard.ClusterBench;

/// <summary>Sequential requests from a client of one node to a sender held by a client of another (or the same).</summary>
internal static class RequestLatency
{
    private static int s_run;

    /// <summary>Asks <paramref name="count"/> times (after 200 unmeasured) and returns "p50 X µs, p99 Y µs".</summary>
    public static async Task<string> RunAsync(string from, string to, int count, CancellationToken ct)
    {
        var name = $"echo-{Environment.ProcessId}-{Interlocked.Increment(ref s_run)}";
        await using var responder = await BusClient.ConnectAsync(to, new BusClientOptions { ClientName = "responder" }, ct);
        await using var requester = await BusClient.ConnectAsync(from, new BusClientOptions { ClientName = "requester" }, ct);
        await using var sender = await responder.AddSenderAsync(name, [], new()
        {
            ["echo"] = (request, _) => ValueTask.FromResult(request.Data),
        }, cancellationToken: ct);
        var payload = Payload.From(new byte[16]);
        for (var i = 0; i < 200; i++)
            await requester.RequestAsync(name, "echo", payload, cancellationToken: ct);
        var ticks = new long[count];
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await requester.RequestAsync(name, "echo", payload, cancellationToken: ct);
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }
        Array.Sort(ticks);
        return $"p50 {Micros(ticks[count / 2])} µs, p99 {Micros(ticks[count * 99 / 100])} µs";
    }

    private static string Micros(long ticks) =>
        (ticks * 1_000_000.0 / Stopwatch.Frequency).ToString("N0", CultureInfo.InvariantCulture);
}
