using System.Diagnostics;

namespace Switchboard.LoadTest;

/// <summary>One scenario of the table. <see cref="Run"/> opens its own connections and closes them before returning.</summary>
internal abstract class Scenario
{
    private static int s_runs;

    protected Scenario(string id, string title)
    {
        Id = id;
        Title = title;
    }

    public string Id { get; }

    public string Title { get; }

    /// <summary>One run of <paramref name="duration"/> against <paramref name="target"/>.</summary>
    public abstract RunMeasurement Run(BrokerTarget target, LoadOptions options, TimeSpan duration, bool warmup);

    /// <summary>False when runs keep state per broker between them: then each broker gets all its runs in a row.</summary>
    public virtual bool AlternatesBrokers => true;

    /// <summary>Called after the scenario's last run against <paramref name="target"/> (releases what its runs kept; may be called twice).</summary>
    public virtual void Complete(BrokerTarget target, LoadOptions options)
    {
    }

    public static Scenario Create(string id, LoadOptions options) => options.Driver == LoadDriver.Clients ? CreateClient(id, options) : id switch
    {
        "S1" => new PubSubScenario("S1", "1 publisher → 1 subscriber, 16 B", payloadSize: 16, subscribers: 1, PubSubScenario.SubjectMix.One),
        "S2" => new PubSubScenario("S2", "1 publisher → 1 subscriber, 1 KiB", payloadSize: 1024, subscribers: 1, PubSubScenario.SubjectMix.One),
        "S3" => new PubSubScenario("S3", "1 publisher → 4 subscribers, 16 B", payloadSize: 16, subscribers: 4, PubSubScenario.SubjectMix.One),
        "S4" => new RequestScenario("S4", "sequential request/reply, 16 B", concurrency: 1, payloadSize: 16),
        "S5" => new IdleConnectionsScenario("S5", $"broker RSS per idle connection ({options.IdleConnections} connections)"),
        "S6" => new PubSubScenario("S6", $"1 subscriber with {options.Subjects} literal + 4 wildcard subscriptions, random subjects, 16 B", payloadSize: 16, subscribers: 1, PubSubScenario.SubjectMix.Literal),
        "S7" => new RequestScenario("S7", $"{options.Concurrency} concurrent requests in flight, 16 B", concurrency: options.Concurrency, payloadSize: 16),
        "S8" => new PubSubScenario("S8", $"1 subscriber with {options.Subjects} literal three-token + 4 wildcard subscriptions, 10 % of messages reach it only through a wildcard, 16 B", payloadSize: 16, subscribers: 1, PubSubScenario.SubjectMix.WildcardMix),
        "S9" => new PubSubScenario("S9", $"1 publisher → {options.FanOut} subscribers, 16 B stamped with the send time", payloadSize: 16, subscribers: options.FanOut, PubSubScenario.SubjectMix.One, stamped: true),
        _ => throw new ArgumentException($"Unknown scenario '{id}'."),
    };

    /// <summary>The same shapes, generated with the real clients (<see cref="ClientDriver"/>).</summary>
    private static Scenario CreateClient(string id, LoadOptions options) => id switch
    {
        "S1" => new ClientPubSubScenario("S1", "1 publisher → 1 subscriber, 16 B", payloadSize: 16, subscribers: 1, PubSubScenario.SubjectMix.One),
        "S2" => new ClientPubSubScenario("S2", "1 publisher → 1 subscriber, 1 KiB", payloadSize: 1024, subscribers: 1, PubSubScenario.SubjectMix.One),
        "S3" => new ClientPubSubScenario("S3", "1 publisher → 4 subscribers, 16 B", payloadSize: 16, subscribers: 4, PubSubScenario.SubjectMix.One),
        "S4" => new ClientRequestScenario("S4", "sequential request/reply, 16 B", concurrency: 1, payloadSize: 16),
        "S6" => new ClientPubSubScenario("S6", $"1 subscriber with {options.Subjects} literal + 4 wildcard subscriptions, random subjects, 16 B", payloadSize: 16, subscribers: 1, PubSubScenario.SubjectMix.Literal),
        "S7" => new ClientRequestScenario("S7", $"{options.Concurrency} concurrent requests in flight, 16 B", concurrency: options.Concurrency, payloadSize: 16),
        "S8" => new ClientPubSubScenario("S8", $"1 subscriber with {options.Subjects} literal three-token + 4 wildcard subscriptions, 10 % of messages reach it only through a wildcard, 16 B", payloadSize: 16, subscribers: 1, PubSubScenario.SubjectMix.WildcardMix),
        _ => throw new ArgumentException($"{id} has no client version."),
    };

    /// <summary>A name unique to this run, so a previous run's registrations (still being removed) never collide.</summary>
    protected static string NextTag(string id) => $"{id}r{Interlocked.Increment(ref s_runs)}";

    protected static byte[] MakePayload(int size)
    {
        var payload = new byte[size];
        for (var i = 0; i < size; i++)
        {
            payload[i] = (byte)('a' + (i % 26));
        }

        return payload;
    }

    protected static long Deadline(long start, TimeSpan duration) => start + (long)(duration.TotalSeconds * Stopwatch.Frequency);

    protected static void SleepUntil(long timestamp)
    {
        while (true)
        {
            var left = timestamp - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                return;
            }

            Thread.Sleep(TimeSpan.FromSeconds(Math.Min(0.05, (double)left / Stopwatch.Frequency)));
        }
    }

    /// <summary>What this process allocated, and its thread-pool work items and lock contentions, since <see cref="Take"/>: the clients' costs.</summary>
    protected readonly record struct ClientProbe(long Allocated, long WorkItems, long Contentions)
    {
        public static ClientProbe Take() => new(GC.GetTotalAllocatedBytes(precise: true), ThreadPool.CompletedWorkItemCount, Monitor.LockContentionCount);

        /// <summary>The measurement with the per-operation costs since <paramref name="start"/> over <paramref name="operations"/>.</summary>
        public RunMeasurement Apply(RunMeasurement m, ClientProbe start, long operations) => operations <= 0 ? m : m with
        {
            ClientBytesPerOp = (double)(Allocated - start.Allocated) / operations,
            ClientWorkItemsPerOp = (double)(WorkItems - start.WorkItems) / operations,
            ClientLockContentionsPerOp = (double)(Contentions - start.Contentions) / operations,
        };
    }

    /// <summary>CPU of the broker and of this process, sampled together.</summary>
    protected readonly record struct CpuSample(long Timestamp, long? Broker, long? Self)
    {
        public static CpuSample Take(BrokerTarget target, LoadOptions options) => new(
            Stopwatch.GetTimestamp(),
            target.Pid is { } pid ? ProcessStats.CpuNanoseconds(pid, options.ClockTicksPerSecond) : null,
            ProcessStats.CpuNanoseconds(Environment.ProcessId, options.ClockTicksPerSecond));

        public double SecondsSince(CpuSample start) => (double)(Timestamp - start.Timestamp) / Stopwatch.Frequency;

        public double? BrokerNsSince(CpuSample start) => Broker is { } b && start.Broker is { } a ? b - a : null;

        public double? BrokerPercentSince(CpuSample start) => BrokerNsSince(start) is { } ns ? 100.0 * ns / (SecondsSince(start) * 1e9) : null;

        public double? SelfPercentSince(CpuSample start) => Self is { } b && start.Self is { } a ? 100.0 * (b - a) / (SecondsSince(start) * 1e9) : null;
    }
}
