namespace Switchboard.LoadTest;

/// <summary>One measured run of one scenario against one broker. Null: not measured (no PID, or not this kind of scenario).</summary>
public sealed record RunMeasurement
{
    /// <summary>Length of the measured window.</summary>
    public double Seconds { get; init; }

    /// <summary>Messages or requests sent in the whole run (the measured window and the drain after it).</summary>
    public long Sent { get; init; }

    /// <summary>Deliveries or replies received inside the measured window.</summary>
    public long Received { get; init; }

    /// <summary>Deliveries or replies expected but never received, counted after the drain (sent × fan-out − received).</summary>
    public long Loss { get; init; }

    /// <summary>Deliveries (or replies) per second inside the measured window.</summary>
    public double Rate { get; init; }

    /// <summary>Payload megabytes (10^6 bytes) delivered per second.</summary>
    public double? MegabytesPerSecond { get; init; }

    /// <summary>Request round trip percentiles in microseconds.</summary>
    public double? P50Us { get; init; }

    /// <inheritdoc cref="P50Us"/>
    public double? P99Us { get; init; }

    /// <inheritdoc cref="P50Us"/>
    public double? P999Us { get; init; }

    /// <summary>Broker CPU time (user + system) per delivery or request, in nanoseconds.</summary>
    public double? BrokerCpuNsPerOp { get; init; }

    /// <summary>Broker CPU time over wall time, in percent of one core.</summary>
    public double? BrokerCpuPercent { get; init; }

    /// <summary>The load generator's own CPU over wall time, in percent of one core.</summary>
    public double? GeneratorCpuPercent { get; init; }

    /// <summary>With the real clients: bytes the generator process (its publishing and receiving clients) allocated
    /// over the measured window per delivery or request (GC.GetTotalAllocatedBytes(precise) after − before).</summary>
    public double? ClientBytesPerOp { get; init; }

    /// <summary>With the real clients, a probe of where their time goes: thread-pool work items the generator process
    /// completed over the measured window per delivery or request (<see cref="ThreadPool.CompletedWorkItemCount"/>), each a
    /// hop from one thread to another.</summary>
    public double? ClientWorkItemsPerOp { get; init; }

    /// <summary>With the real clients: contended lock acquisitions per delivery or request (<see cref="Monitor.LockContentionCount"/>).</summary>
    public double? ClientLockContentionsPerOp { get; init; }

    /// <summary>S5: broker RSS growth per idle connection, in bytes.</summary>
    public double? BytesPerConnection { get; init; }

    /// <summary>S5: broker RSS before the connections were opened.</summary>
    public long? RssBefore { get; init; }

    /// <summary>S5: broker RSS with the connections open.</summary>
    public long? RssAfter { get; init; }

    /// <summary>Errors the broker reported, connections it closed, unexpected answers.</summary>
    public int Errors { get; init; }

    /// <summary>The first error's text, or why the run failed.</summary>
    public string? FirstError { get; init; }

    /// <summary>True when the run did not complete (an exception); its numbers are not used.</summary>
    public bool Failed { get; init; }
}
