using System.Diagnostics;
using StackExchange.Redis;

namespace Switchboard.ClusterBench;

/// <summary>The baseline: 16 B PUBLISHes through StackExchange.Redis to a subscriber of another multiplexer.</summary>
internal static class RawRedisThroughput
{
    /// <summary>Publishes fire-and-forget for <paramref name="duration"/>; returns messages received per second.</summary>
    public static async Task<double> RunAsync(string redis, TimeSpan duration, CancellationToken ct)
    {
        await using var subscriberConnection = await ConnectionMultiplexer.ConnectAsync(redis);
        await using var publisherConnection = await ConnectionMultiplexer.ConnectAsync(redis);
        var channel = RedisChannel.Literal($"clusterbench:{Environment.ProcessId}");
        long received = 0;
        long lastArrival = 0;
        var clock = Stopwatch.StartNew();
        await subscriberConnection.GetSubscriber().SubscribeAsync(channel, (_, _) =>
        {
            Interlocked.Increment(ref received);
            Volatile.Write(ref lastArrival, clock.ElapsedTicks);
        });
        var publisher = publisherConnection.GetSubscriber();
        RedisValue payload = new byte[16];
        long sent = 0;
        clock.Restart();
        var end = duration.TotalSeconds * Stopwatch.Frequency;
        while (clock.ElapsedTicks < end)
        {
            for (var i = 0; i < 1023; i++)
                publisher.Publish(channel, payload, CommandFlags.FireAndForget);
            // One awaited publish per 1024 bounds what is queued in the client to what Redis has not answered yet.
            await publisher.PublishAsync(channel, payload);
            sent += 1024;
            await BusThroughput.WindowAsync(sent, () => Interlocked.Read(ref received), ct);
        }
        await BusThroughput.WaitForAsync(() => Interlocked.Read(ref received) >= sent, () => Interlocked.Read(ref received), ct);
        var got = Interlocked.Read(ref received);
        if (got < sent)
            Console.Error.WriteLine($"clusterbench: raw redis: {sent - got} of {sent} messages did not arrive");
        return got / ((double)Volatile.Read(ref lastArrival) / Stopwatch.Frequency);
    }
}
