using System.Diagnostics;

namespace Switchboard.Cli.Tests.Reliability;

/// <summary>Two innocent clients: one publishes a numbered beat every 50 ms, the other receives them and records how
/// long each took. Whatever an attacker does, none may be lost and each must arrive quickly.</summary>
internal sealed class Canary : IAsyncDisposable
{
    private static readonly TimeSpan Beat = TimeSpan.FromMilliseconds(50);

    /// <summary>Beats slower than this are listed (half the 100 ms target).</summary>
    private static readonly TimeSpan ReportOver = TimeSpan.FromMilliseconds(50);
    private readonly BusClient _publisher;
    private readonly BusClient _subscriber;
    private readonly ISender _sender;
    private readonly IListener _listener;
    private readonly List<(int Seq, TimeSpan Latency)> _received = [];
    private readonly CancellationTokenSource _stop = new();
    private Task? _beating;
    private int _sent;
    private int _disconnects;
    private bool _warm;

    private Canary(BusClient publisher, BusClient subscriber, ISender sender, IListener listener)
    {
        (_publisher, _subscriber, _sender, _listener) = (publisher, subscriber, sender, listener);
        publisher.Disconnected += (_, _) => Interlocked.Increment(ref _disconnects);
        subscriber.Disconnected += (_, _) => Interlocked.Increment(ref _disconnects);
    }

    public static async Task<Canary> StartAsync(string address, CancellationToken cancellationToken)
    {
        var publisher = await BusClient.ConnectAsync(address, new BusClientOptions { ClientName = "canary-pub" }, cancellationToken);
        var subscriber = await BusClient.ConnectAsync(address, new BusClientOptions { ClientName = "canary-sub" }, cancellationToken);
        var sender = await publisher.AddSenderAsync("canary", ["beat"], cancellationToken: cancellationToken);
        Canary? canary = null;
        var listener = await subscriber.ListenAsync("canary", "beat", message => canary!.OnBeat(message), cancellationToken: cancellationToken);
        canary = new Canary(publisher, subscriber, sender, listener);
        await canary.WarmUpAsync(cancellationToken);
        canary._beating = canary.BeatAsync();
        return canary;
    }

    /// <summary>Stops beating, waits for the last beats, and checks every one came, in order, each within <paramref name="limit"/>.</summary>
    public async Task<(TimeSpan Worst, string Slow)> StopAndAssertAsync(TimeSpan limit)
    {
        await _stop.CancelAsync();
        await _beating!;
        var deadline = Stopwatch.StartNew();
        while (Received < _sent && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(20, CancellationToken.None);
        }

        (int Seq, TimeSpan Latency)[] received;
        lock (_received)
        {
            received = [.. _received];
        }

        Assert.Equal(Enumerable.Range(1, _sent), received.Select(r => r.Seq));
        Assert.Equal(0, Volatile.Read(ref _disconnects));
        var worst = received.MaxBy(r => r.Latency);
        var slow = string.Join(", ", received.Where(r => r.Latency >= ReportOver).Select(r => $"#{r.Seq} {r.Latency.TotalMilliseconds:0} ms"));
        Assert.True(worst.Latency < limit, $"the slowest of {received.Length} beats took {worst.Latency.TotalMilliseconds:0} ms (limit {limit.TotalMilliseconds:0} ms); beats over {ReportOver.TotalMilliseconds:0} ms (one every {Beat.TotalMilliseconds:0} ms from the start): {slow}");
        return (worst.Latency, slow);
    }

    /// <summary>Beats sent so far.</summary>
    public int Sent => Volatile.Read(ref _sent);

    private int Received
    {
        get
        {
            lock (_received)
            {
                return _received.Count;
            }
        }
    }

    private async Task BeatAsync()
    {
        using var timer = new PeriodicTimer(Beat);
        while (await NextBeatAsync(timer))
        {
            var seq = ++_sent;
            await _sender.TriggerAsync("beat", Payload.Json(new long[] { seq, Stopwatch.GetTimestamp() }));
        }
    }

    private async Task<bool> NextBeatAsync(PeriodicTimer timer)
    {
        try
        {
            return await timer.WaitForNextTickAsync(_stop.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>One beat numbered 0 sent and received before the measured ones: the first use of the canary's own code
    /// paths (JSON encoding and decoding, the client's first trigger) takes longer than any beat may, and is not the broker.</summary>
    private async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        await _sender.TriggerAsync("beat", Payload.Json(new long[] { 0, Stopwatch.GetTimestamp() }), cancellationToken: cancellationToken);
        var deadline = Stopwatch.StartNew();
        while (!Volatile.Read(ref _warm) && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(10, cancellationToken);
        }

        Assert.True(Volatile.Read(ref _warm), "the canary's warm-up beat did not arrive within 10 s");
    }

    private void OnBeat(BusMessage message)
    {
        var beat = message.Data.As<long[]>()!;
        if (beat[0] == 0)
        {
            Volatile.Write(ref _warm, true);
            return;
        }

        lock (_received)
        {
            _received.Add(((int)beat[0], Stopwatch.GetElapsedTime(beat[1])));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _listener.DisposeAsync();
        await _publisher.DisposeAsync();
        await _subscriber.DisposeAsync();
        _stop.Dispose();
    }
}
