using System.Diagnostics;

namespace Switchboard.ClusterBench;

/// <summary>One sender triggering 16 B events as fast as its client lets it, one listener counting them.</summary>
internal static class BusThroughput
{
    private static int s_run;

    /// <summary>Sends for <paramref name="duration"/> from a client of <paramref name="from"/> to a listener on a
    /// client of <paramref name="to"/>; returns messages received per second, from the first send to the last arrival.</summary>
    public static async Task<double> RunAsync(string from, string to, TimeSpan duration, CancellationToken ct)
    {
        var name = $"bench-{Environment.ProcessId}-{Interlocked.Increment(ref s_run)}";
        await using var receiver = await BusClient.ConnectAsync(to, new BusClientOptions { ClientName = "receiver" }, ct);
        await using var publisher = await BusClient.ConnectAsync(from, new BusClientOptions { ClientName = "publisher" }, ct);
        long received = 0;
        long lastArrival = 0;
        var clock = Stopwatch.StartNew();
        await using var listener = await receiver.ListenAsync(name, "tick", (_, _) =>
        {
            Interlocked.Increment(ref received);
            Volatile.Write(ref lastArrival, clock.ElapsedTicks);
            return default;
        }, cancellationToken: ct);
        await using var sender = await publisher.AddSenderAsync(name, ["tick"], cancellationToken: ct);
        var payload = Payload.From(new byte[16]);
        long sent = 0;
        clock.Restart();
        var end = duration.TotalSeconds * Stopwatch.Frequency;
        while (clock.ElapsedTicks < end)
        {
            // Checking the clock every 256 sends keeps Stopwatch out of the measured path.
            for (var i = 0; i < 256; i++)
                await sender.TriggerAsync("tick", payload, cancellationToken: ct);
            sent += 256;
            await WindowAsync(sent, () => Interlocked.Read(ref received), ct);
        }
        await publisher.FlushAsync(ct);
        await WaitForAsync(() => Interlocked.Read(ref received) >= sent, () => Interlocked.Read(ref received), ct);
        var got = Interlocked.Read(ref received);
        if (got < sent)
            Console.Error.WriteLine($"clusterbench: {from} -> {to}: {sent - got} of {sent} messages did not arrive");
        return got / ((double)Volatile.Read(ref lastArrival) / Stopwatch.Frequency);
    }

    /// <summary>At most this many messages are sent and not yet received: without it the sender outruns the path and
    /// the figure would count what was dropped under overload (slow consumers, full outboxes), not what it carries.</summary>
    internal const long Window = 65_536;

    /// <summary>Waits while more than <see cref="Window"/> messages are on their way.</summary>
    internal static async ValueTask WindowAsync(long sent, Func<long> received, CancellationToken ct)
    {
        while (sent - received() > Window)
            await Task.Delay(1, ct);
    }

    /// <summary>Waits until <paramref name="done"/>, or until <paramref name="progress"/> stops growing for 2 s.</summary>
    internal static async Task WaitForAsync(Func<bool> done, Func<long> progress, CancellationToken ct)
    {
        var last = progress();
        var still = Stopwatch.StartNew();
        while (!done() && still.Elapsed < TimeSpan.FromSeconds(2))
        {
            await Task.Delay(10, ct);
            var now = progress();
            if (now != last)
            {
                last = now;
                still.Restart();
            }
        }
    }
}
