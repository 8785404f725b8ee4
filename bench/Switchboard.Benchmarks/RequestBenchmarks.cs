using BenchmarkDotNet.Attributes;

namespace Switchboard.Benchmarks;

/// <summary>
/// An in-process request round trip (<c>bus.RequestAsync("s", "get", payload)</c>) to a handler that answers at once,
/// against calling the same handler directly.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class RequestBenchmarks
{
    private const string SenderName = "s";
    private const string RequestName = "get";

    private readonly Payload _payload = new byte[16];
    private RequestHandler _handler = null!;
    private LocalBus _bus = null!;

    [GlobalSetup]
    public void Setup()
    {
        var answer = new Payload(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 });
        _handler = (request, cancellationToken) => ValueTask.FromResult(answer);
        _bus = new LocalBus();
        _ = _bus.AddSenderAsync(SenderName, ["tick"], new Dictionary<string, RequestHandler> { [RequestName] = _handler })
            .AsTask().GetAwaiter().GetResult();

        // Correctness: the round trip must reach the handler and bring its answer back.
        if (Direct() != 17 || Request() != 17)
        {
            throw new InvalidOperationException("The request did not come back with the handler's 17-byte answer; the measured path does not work.");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _bus.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, Description = "Direct: await handler(request)")]
    public int Direct()
    {
        var pending = _handler(new BusRequest(SenderName, RequestName, _payload, MessageHeaders.Empty), CancellationToken.None);
        return (pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult()).Length;
    }

    [Benchmark(Description = "Switchboard: LocalBus.RequestAsync")]
    public int Request()
    {
        var pending = _bus.RequestAsync(SenderName, RequestName, _payload);
        return (pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult()).Length;
    }
}
