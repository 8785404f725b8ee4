using System.Buffers;
using System.Net.Sockets;
using System.Text;
using Switchboard.Wire;

namespace Switchboard.Attacker;

/// <summary>Where the broker under attack listens.</summary>
internal sealed record Endpoints(Uri Tcp, Uri JsonLines, Uri Http);

/// <summary>
/// The abusive peers of the reliability suite (tests/Switchboard.Cli.Tests/Reliability), one per class of abuse in
/// docs/security.md: each runs until stopped or cut off by the broker. What a test checks of the broker's answer is
/// printed on stdout as one line starting with <c>seen:</c>.
/// </summary>
internal static class Attacks
{
    public static readonly string[] Names =
        ["asks-without-reading", "json-lines-asks-without-reading", "retained-hog", "declaration-bombs", "tricklers", "connection-flood", "sse-hog", "garbage-lines"];

    public static Task RunAsync(string attack, Endpoints at, CancellationToken stop) => attack switch
    {
        "asks-without-reading" => AsksWithoutReadingAsync(at, stop),
        "json-lines-asks-without-reading" => LinesWithoutReadingAsync(at, stop),
        "retained-hog" => RetainedHogAsync(at, stop),
        "declaration-bombs" => DeclarationBombsAsync(at, stop),
        "tricklers" => TricklersAsync(at, stop),
        "connection-flood" => ConnectionFloodAsync(at, stop),
        "sse-hog" => SseHogAsync(at, stop),
        "garbage-lines" => GarbageLinesAsync(at, stop),
        _ => throw new ArgumentOutOfRangeException(nameof(attack), attack, null),
    };

    /// <summary>Sender lists asked for again and again, never read.</summary>
    private static async Task AsksWithoutReadingAsync(Endpoints at, CancellationToken stop)
    {
        using var socket = await ConnectAsync(at.Tcp, stop);
        var hello = Encode(w => Frames.Hello(w, false, Protocol.Version, "greedy", null, Protocol.FeaturePagedLists, 60_000));
        await socket.SendAsync(hello, stop);
        var asks = Encode(w =>
        {
            for (uint i = 1; i <= 200; i++)
            {
                Frames.Correlated(w, false, FrameType.ListSenders, i);
            }
        });
        await UntilStoppedAsync(async () => await socket.SendAsync(asks, stop), stop);
    }

    /// <summary>The same over JSON lines: senders asked for in a loop, nothing read.</summary>
    private static async Task LinesWithoutReadingAsync(Endpoints at, CancellationToken stop)
    {
        using var socket = await ConnectAsync(at.JsonLines, stop);
        var asks = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"op\":\"senders\",\"id\":1}\n", 200)));
        await UntilStoppedAsync(async () => await socket.SendAsync(asks, stop), stop);
    }

    /// <summary>Retains 1 MiB values until refused, while a listener of the whole bus with retained replays never reads.</summary>
    private static async Task RetainedHogAsync(Endpoints at, CancellationToken stop)
    {
        await using var hog = await BusClient.ConnectAsync(at.Tcp.ToString(), new BusClientOptions { ClientName = "hog" }, stop);
        var refused = 0;
        hog.Error += (_, error) =>
        {
            if (Interlocked.Exchange(ref refused, 1) == 0)
            {
                Console.WriteLine($"seen: retain refused: {error.Code}"); // the retained store is full, as it should be
            }
        };
        var events = Enumerable.Range(0, 200).Select(i => $"#frame.{i}").ToArray();
        await using var frames = await hog.AddSenderAsync("hog", events, cancellationToken: stop);
        var value = new byte[(1 << 20) - 100];
        foreach (var e in events)
        {
            await frames.TriggerAsync(e, value, retain: true, cancellationToken: stop); // a refusal comes back as an error
            await hog.FlushAsync(stop); // past the client's own outbound bound a trigger would be dropped here, not sent
        }

        using var reader = await ConnectAsync(at.Tcp, stop);
        await reader.SendAsync(Encode(w =>
        {
            Frames.Hello(w, false, Protocol.Version, "never-reads", null, 0, 60_000);
            Frames.Listen(w, false, 1, 1, null, null, null, retained: true);
        }), stop);
        await UntilStoppedAsync(() => Task.Delay(100, stop), stop);
    }

    /// <summary>Four connections declaring senders far past every declaration limit, over and over.</summary>
    private static Task DeclarationBombsAsync(Endpoints at, CancellationToken stop) => Task.WhenAll(Enumerable.Range(0, 4).Select(async n =>
    {
        using var socket = await ConnectAsync(at.Tcp, stop);
        var bomb = Encode(w =>
        {
            Frames.Hello(w, false, Protocol.Version, $"bomber{n}", null, 0, 60_000);
            Frames.AddSender(w, false, 1, $"bomb{n}", Enumerable.Range(0, 60_000).Select(i => $"e{i}").ToArray(), [], false, null, default);
        });
        await socket.SendAsync(bomb, stop);
        var again = Encode(w => Frames.AddSender(w, false, 2, $"bomb{n}", Enumerable.Range(0, 30_000).Select(i => $"event.number.{i}").ToArray(), [], false, null, default));
        await UntilStoppedAsync(async () => await socket.SendAsync(again, stop), stop);
    }));

    /// <summary>Fifty connections each sending a frame one byte at a time.</summary>
    private static Task TricklersAsync(Endpoints at, CancellationToken stop) => Task.WhenAll(Enumerable.Range(0, 50).Select(async n =>
    {
        using var socket = await ConnectAsync(at.Tcp, stop);
        var frame = Encode(w =>
        {
            Frames.Hello(w, false, Protocol.Version, $"trickle{n}", null, 0, 60_000);
            Frames.AddSender(w, false, 1, $"trickle{n}", Enumerable.Range(0, 100).Select(i => $"e{i}").ToArray(), [], false, null, default);
        });
        for (var i = 0; i < frame.Length && !stop.IsCancellationRequested; i++)
        {
            await socket.SendAsync(frame.AsMemory(i, 1), stop).AsTask().ContinueWith(_ => { }, TaskScheduler.Default);
            await Task.Delay(50, stop).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }));

    /// <summary>Two thousand idle connections from one address, held until the end.</summary>
    private static async Task ConnectionFloodAsync(Endpoints at, CancellationToken stop)
    {
        var sockets = new List<Socket>();
        try
        {
            var hello = Encode(w => Frames.Hello(w, false, Protocol.Version, "idle", null, 0, 60_000));
            for (var i = 0; i < 2000 && !stop.IsCancellationRequested; i++)
            {
                var socket = await ConnectAsync(at.Tcp, stop);
                sockets.Add(socket);
                await socket.SendAsync(hello, stop);
            }

            await UntilStoppedAsync(() => Task.Delay(100, stop), stop);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
        {
            // stopped, or refused by the broker's connection caps
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    /// <summary>More SSE connections than one address may hold, all idle.</summary>
    private static async Task SseHogAsync(Endpoints at, CancellationToken stop)
    {
        using var http = new HttpClient { BaseAddress = at.Http, Timeout = Timeout.InfiniteTimeSpan };
        var streams = new List<HttpResponseMessage>();
        try
        {
            for (var i = 0; i < 150 && !stop.IsCancellationRequested; i++)
            {
                streams.Add(await http.GetAsync(new Uri($"/events?event=%23s{i % 10}", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, stop));
            }

            var refused = streams.Count(s => (int)s.StatusCode == 429);
            Console.WriteLine($"seen: {streams.Count - refused} streams open, {refused} refused with 429");
            await UntilStoppedAsync(() => Task.Delay(100, stop), stop);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            streams.ForEach(s => s.Dispose());
        }
    }

    /// <summary>A flood of malformed JSON lines, one over-long line after another.</summary>
    private static async Task GarbageLinesAsync(Endpoints at, CancellationToken stop)
    {
        using var socket = await ConnectAsync(at.JsonLines, stop);
        var garbage = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"op\":\"trigger\",\"sender\":[1,2,{\"x\":\n", 500)) + new string('x', 2 << 20) + "\n");
        await UntilStoppedAsync(async () => await socket.SendAsync(garbage, stop), stop);
    }

    /// <summary>Repeats <paramref name="step"/> until stopped or the broker cuts the attacker off.</summary>
    private static async Task UntilStoppedAsync(Func<Task> step, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await step();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or SwitchboardException)
        {
            // stopped, or cut by the broker: both are the end of this attacker
        }
    }

    private static async Task<Socket> ConnectAsync(Uri address, CancellationToken stop)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(address.Host, address.Port, stop);
        return socket;
    }

    private static byte[] Encode(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return buffer.WrittenSpan.ToArray();
    }
}
