using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Switchboard.Cli.Commands;

/// <summary><c>switchboard sub --stats</c>: counts what a subscription receives and shows the rates about once a second,
/// live on one line at a terminal, one plain line per second when stdout is redirected; then a summary.</summary>
public static class SubscriptionStats
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>Reads <paramref name="queue"/> until <paramref name="count"/> messages (if given) or cancellation.</summary>
    public static async Task RunAsync(IListenerQueue queue, int? count, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queue);
        var meter = new RateMeter();
        var reading = CountAsync(queue, meter, count, cancellationToken);
        if (Terminal.Stdout() is { } terminal)
        {
            await terminal.Live(new Text("rate: waiting for the first second")).StartAsync(async live =>
                await ReportAsync(reading, meter, sample =>
                {
                    live.UpdateTarget(new Markup(sample.ToMarkup()));
                    live.Refresh();
                }));
            terminal.WriteLine(meter.Summary());
            return;
        }

        await ReportAsync(reading, meter, sample =>
        {
            Console.Out.WriteLine(sample.ToString());
            Console.Out.Flush(); // one line per second, seen as it happens by a pipe
        });
        await Console.Out.WriteLineAsync(meter.Summary());
    }

    private static async Task CountAsync(IListenerQueue queue, RateMeter meter, int? count, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var message in queue.ReadAllAsync(cancellationToken))
            {
                if (meter.Add(message.Data.Length) == count)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Shows a sample at every tick until <paramref name="reading"/> ends (rethrowing what it failed with).</summary>
    private static async Task ReportAsync(Task reading, RateMeter meter, Action<RateSample> show)
    {
        using var timer = new PeriodicTimer(Interval);
        while (await Task.WhenAny(reading, timer.WaitForNextTickAsync().AsTask()) != reading)
        {
            show(meter.Sample());
        }

        await reading;
    }
}

/// <summary>Messages and payload bytes counted by one reader, sampled by another (the reporting loop).</summary>
public sealed class RateMeter
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _messages;
    private long _bytes;
    private long _sampledMessages;
    private long _sampledBytes;
    private TimeSpan _sampledAt;

    /// <summary>Counts one message of <paramref name="bytes"/> payload bytes; returns how many were counted so far.</summary>
    public long Add(int bytes)
    {
        Interlocked.Add(ref _bytes, bytes);
        return Interlocked.Increment(ref _messages);
    }

    /// <summary>The rates since the previous sample, measured over the time that really passed (a late tick is not a faster second).</summary>
    public RateSample Sample()
    {
        var now = _clock.Elapsed;
        var messages = Interlocked.Read(ref _messages);
        var bytes = Interlocked.Read(ref _bytes);
        var seconds = Math.Max((now - _sampledAt).TotalSeconds, 1e-3);
        var sample = new RateSample((messages - _sampledMessages) / seconds, (bytes - _sampledBytes) / seconds, messages, bytes);
        (_sampledMessages, _sampledBytes, _sampledAt) = (messages, bytes, now);
        return sample;
    }

    /// <summary>'done: N msgs, N B in N s (N msgs/s)'.</summary>
    public string Summary()
    {
        var seconds = _clock.Elapsed.TotalSeconds;
        var messages = Interlocked.Read(ref _messages);
        return string.Create(CultureInfo.InvariantCulture,
            $"done: {messages:N0} msgs, {RateSample.Bytes(Interlocked.Read(ref _bytes))} in {seconds:N1} s ({messages / Math.Max(seconds, 1e-3):N0} msgs/s)");
    }
}

/// <summary>One second of a subscription.</summary>
/// <param name="MessagesPerSecond">Messages received per second since the previous sample.</param>
/// <param name="BytesPerSecond">Payload bytes received per second since the previous sample.</param>
/// <param name="TotalMessages">Messages received since the start.</param>
/// <param name="TotalBytes">Payload bytes received since the start.</param>
public readonly record struct RateSample(double MessagesPerSecond, double BytesPerSecond, long TotalMessages, long TotalBytes)
{
    /// <summary>'rate: 1,204 msgs/s, 18.8 KiB/s; total: 5,120 msgs, 80.0 KiB'.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"rate: {MessagesPerSecond:N0} msgs/s, {Bytes(BytesPerSecond)}/s; total: {TotalMessages:N0} msgs, {Bytes(TotalBytes)}");

    /// <summary>The same line with the rates in colour (the colours are dropped when NO_COLOR is set).</summary>
    public string ToMarkup() => string.Create(CultureInfo.InvariantCulture,
        $"rate: [green]{MessagesPerSecond:N0} msgs/s[/], [green]{Bytes(BytesPerSecond)}/s[/]; total: [aqua]{TotalMessages:N0} msgs[/], [aqua]{Bytes(TotalBytes)}[/]");

    /// <summary>Bytes in B, KiB, MiB or GiB.</summary>
    public static string Bytes(double bytes) => bytes switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes:N0} B"),
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024:N1} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024 * 1024):N1} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024 * 1024 * 1024):N1} GiB"),
    };
}
