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

    /// <summary>The most bytes one retained value may take (data, headers and names): 1 MiB.</summary>
    public long MaxRetainedValueBytes { get; init; } = 1 << 20;

    /// <summary>The most bytes all retained values together may take: 64 MiB. Past it, a new value is refused.</summary>
    public long MaxRetainedBytes { get; init; } = 64L << 20;

    /// <summary>How long a retained value lives: until cleared (as in MQTT, the default) or while its sender is online.</summary>
    public RetainedLifetime RetainedLifetime { get; init; } = RetainedLifetime.UntilCleared;

    /// <summary>The listener options used when a registration gives none.</summary>
    public ListenerOptions DefaultListenerOptions { get; init; } = ListenerOptions.Default;
}

/// <summary>How long a retained value lives (<see cref="BusOptions.RetainedLifetime"/>).</summary>
public enum RetainedLifetime
{
    /// <summary>Until the sender (or one with its name) clears it with an empty retained trigger, or the bus stops.</summary>
    UntilCleared,

    /// <summary>Until then, or until its sender leaves the bus, whichever comes first.</summary>
    WhileSenderOnline,
}
