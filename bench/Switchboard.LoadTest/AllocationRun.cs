using System.Diagnostics;
using System.Globalization;
using Switchboard.Server;

namespace Switchboard.LoadTest;

/// <summary>
/// The steady-state allocation proof: a broker and two BusClients in this process, one publishing a channel event
/// with a 16-byte payload, the other listening with a callback, over real TCP on 127.0.0.1. After a warm-up, the
/// process's <see cref="GC.GetTotalAllocatedBytes"/> is read before and after N messages; whatever the broker (read loop,
/// routing, delivery, write loop) and both clients (encode, batch, send, parse, dispatch) allocate per message shows up
/// as bytes per message. The publisher waits, spinning on this thread, while more than a window of messages is in flight,
/// so nothing is dropped and no task is made to wait.
/// </summary>
internal static class AllocationRun
{
    private const int Window = 10_000;

    public static async Task<int> RunAsync(long messages, long warmup, int payloadBytes, bool borrowData, TextWriter output, TextWriter log)
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Host = "127.0.0.1", Port = 0 });
        await using var publisher = await BusClient.ConnectAsync(host.TcpAddress!, new BusClientOptions { ClientName = "alloc-publisher" });
        await using var subscriber = await BusClient.ConnectAsync(host.TcpAddress!, new BusClientOptions { ClientName = "alloc-subscriber" });
        var received = 0L;
        await using var listener = await subscriber.ListenAsync(null, "#bench", (_, _) =>
        {
            Interlocked.Increment(ref received);
            return ValueTask.CompletedTask;
        }, new ListenerOptions { BorrowData = borrowData });
        await using var sender = await publisher.AddSenderAsync("alloc", ["#bench"]);
        await subscriber.FlushAsync();
        await publisher.FlushAsync();
        var payload = payloadBytes == 0 ? Payload.Empty : Payload.From(new byte[payloadBytes]);

        var sent = 0L;
        void Pump(long count)
        {
            var spin = new SpinWait();
            for (var i = 0L; i < count; i++)
            {
                while (sent - Volatile.Read(ref received) > Window)
                {
                    spin.SpinOnce(); // yields the CPU once spinning is pointless; allocates nothing
                }

                var trigger = sender.TriggerAsync("#bench", payload);
                if (!trigger.IsCompletedSuccessfully)
                {
                    trigger.AsTask().GetAwaiter().GetResult();
                }

                sent++;
            }

            var deadline = Stopwatch.StartNew();
            while (Volatile.Read(ref received) < sent)
            {
                if (deadline.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new TimeoutException($"{sent - Volatile.Read(ref received):N0} of {sent:N0} messages did not arrive within 30 s.");
                }

                spin.SpinOnce();
            }
        }

        await log.WriteLineAsync($"alloc: warm-up, {warmup:N0} messages");
        await Task.Factory.StartNew(() => Pump(warmup), TaskCreationOptions.LongRunning);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var gen0 = GC.CollectionCount(0);
        var gen2 = GC.CollectionCount(2);
        var clock = Stopwatch.StartNew();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await log.WriteLineAsync($"alloc: measuring {messages:N0} messages");
        await Task.Factory.StartNew(() => Pump(messages), TaskCreationOptions.LongRunning);
        var after = GC.GetTotalAllocatedBytes(precise: true);
        clock.Stop();

        var allocated = after - before;
        var perMessage = (double)allocated / messages;
        var inv = CultureInfo.InvariantCulture;
        await output.WriteLineAsync(string.Create(inv, $"""
            | measured | value |
            |---|---:|
            | messages published and received ({payloadBytes} B payload, 1 publisher → broker → 1 callback listener{(borrowData ? " with BorrowData" : "")}, TCP 127.0.0.1) | {messages:N0} |
            | bytes allocated by the whole process (broker + both BusClients), GC.GetTotalAllocatedBytes(precise) after − before | {allocated:N0} |
            | bytes allocated per message | {perMessage:0.0000} |
            | gen0 / gen2 collections during the run | {GC.CollectionCount(0) - gen0} / {GC.CollectionCount(2) - gen2} |
            | elapsed, messages/s (in-process, not a throughput figure) | {clock.Elapsed.TotalSeconds:0.0} s, {messages / clock.Elapsed.TotalSeconds:N0} |
            | lost | {sent - Volatile.Read(ref received):N0} |
            """));
        return 0;
    }
}
