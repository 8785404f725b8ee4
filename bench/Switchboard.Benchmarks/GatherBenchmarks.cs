using BenchmarkDotNet.Attributes;

namespace Switchboard.Benchmarks;

/// <summary>
/// A gather over 8 producers that answer at once: enumerate every result, then await the summary. Baseline:
/// <see cref="Task.WhenAll(Task[])"/> over the same 8 handlers called directly (no <c>Task.Run</c>).
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class GatherBenchmarks
{
    private const int Producers = 8;
    private const string Topic = "prices";

    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);

    private readonly Payload _payload = new byte[16];
    private ProducerHandler[] _handlers = null!;
    private string[] _names = null!;
    private LocalBus _bus = null!;

    [GlobalSetup]
    public void Setup()
    {
        _bus = new LocalBus();
        _handlers = new ProducerHandler[Producers];
        _names = new string[Producers];
        for (var i = 0; i < Producers; i++)
        {
            var answer = new Payload(new byte[] { (byte)i });
            _handlers[i] = (request, cancellationToken) => ValueTask.FromResult(answer);
            _names[i] = $"p{i}";
            _ = _bus.AddProducerAsync([Topic], _handlers[i], new ProducerOptions { Name = _names[i] }).AsTask().GetAwaiter().GetResult();
        }

        // Correctness: both paths must come back with all 8 answers (the gather also with a summary naming all 8).
        if (Direct().GetAwaiter().GetResult() != Producers)
        {
            throw new InvalidOperationException("The direct baseline did not return 8 results.");
        }

        var call = _bus.GatherAsync(Topic, _payload, Ttl);
        var results = new List<GatherResult>();
        Task.Run(async () =>
        {
            await foreach (var result in call)
            {
                results.Add(result);
            }
        }).GetAwaiter().GetResult();
        var summary = call.Summary.GetAwaiter().GetResult();
        if (results.Count != Producers || summary.Answered.Count != Producers || summary.Missing.Count != 0 || summary.Failed.Count != 0
            || results.Select(r => r.Producer).Distinct().Count() != Producers)
        {
            throw new InvalidOperationException($"The gather returned {results.Count} results and a summary with {summary.Answered.Count} answered, {summary.Missing.Count} missing, {summary.Failed.Count} failed; expected all {Producers} producers to answer.");
        }

        if (Gather().GetAwaiter().GetResult() != Producers)
        {
            throw new InvalidOperationException("The measured gather did not enumerate 8 results.");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _bus.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, Description = "Direct: Task.WhenAll over 8 handler calls")]
    public async Task<int> Direct()
    {
        var tasks = new Task<Payload>[Producers];
        for (var i = 0; i < Producers; i++)
        {
            tasks[i] = _handlers[i](new GatherRequest(Topic, _names[i], _payload, MessageHeaders.Empty), CancellationToken.None).AsTask();
        }

        var results = await Task.WhenAll(tasks);
        return results.Length;
    }

    [Benchmark(Description = "Switchboard: GatherAsync, await foreach + Summary")]
    public async Task<int> Gather()
    {
        var call = _bus.GatherAsync(Topic, _payload, Ttl);
        var count = 0;
        await foreach (var result in call)
        {
            count++;
        }

        var summary = await call.Summary;
        return summary.Answered.Count == count ? count : -1;
    }
}
