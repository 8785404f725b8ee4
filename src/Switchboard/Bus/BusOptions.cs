using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Switchboard;

/// <summary>Settings of a bus.</summary>
public sealed record BusOptions
{
    /// <summary>The defaults.</summary>
    public static BusOptions Default { get; } = new();

    /// <summary>The clock for timeouts and ttls (a <c>FakeTimeProvider</c> in tests).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Where the bus logs (handler faults, drops).</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>The timeout of a request that does not give one.</summary>
    public TimeSpan DefaultRequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The most retained values the bus keeps (one per sender and event).</summary>
    public int MaxRetained { get; init; } = 100_000;

    /// <summary>The listener options used when a registration gives none.</summary>
    public ListenerOptions DefaultListenerOptions { get; init; } = ListenerOptions.Default;
}
