namespace Switchboard;

/// <summary>How a listener queues and runs what it receives.</summary>
public sealed record ListenerOptions
{
    /// <summary>The defaults: 1 024 queued messages, <see cref="OverflowPolicy.Wait"/>, one callback at a time.</summary>
    public static ListenerOptions Default { get; } = new();

    /// <summary>The most messages queued for this listener (not yet read or handled). At least 1.</summary>
    public int Capacity { get; init; } = 1024;

    /// <summary>What happens when the queue is full.</summary>
    public OverflowPolicy Overflow { get; init; } = OverflowPolicy.Wait;

    /// <summary>How many callbacks may run at once. 1 (the default) keeps order and runs one at a time; more trades order
    /// for parallelism (that many workers). Callbacks that do not run at once on the delivering thread run on
    /// Switchboard's own handler threads (dedicated threads, started as needed and ended when idle), never on the .NET
    /// thread pool, so N callbacks that block (<c>Thread.Sleep</c>, synchronous I/O) really
    /// run N at once, and a blocking callback never delays another listener. <see cref="Unbounded"/> runs the callback inline on every publishing thread,
    /// with no queue and no serialization (C# events' and MessagePipe's semantics: order per publishing thread only).</summary>
    public int MaxConcurrency { get; init; } = 1;

    /// <summary>The <see cref="MaxConcurrency"/> that runs callbacks inline on the publishing threads, concurrently.</summary>
    public const int Unbounded = int.MaxValue;

    /// <summary>A queue group: listeners with the same group, sender and pattern share the messages, each going to one of them.</summary>
    public string? Group { get; init; }

    /// <summary>Whether the listener receives matching retained values at once when it registers.</summary>
    public bool ReceiveRetained { get; init; } = true;

    /// <summary>
    /// The callback only borrows <see cref="BusMessage.Data"/>: it reads it before it returns (or before its first
    /// await) and copies whatever it keeps. Messages that arrive over a connection are then handed over straight from
    /// the receive buffer instead of being copied for the callback, so a callback that runs at once allocates nothing per
    /// message. A message that must wait in the queue is still copied. Off by default: a callback may keep what it gets.
    /// </summary>
    public bool BorrowData { get; init; }

    internal void Validate()
    {
        if (Capacity < 1)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"ListenerOptions.Capacity is {Capacity}; it must be at least 1.");
        }

        if (MaxConcurrency < 1)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"ListenerOptions.MaxConcurrency is {MaxConcurrency}; it must be at least 1.");
        }

        if (!Enum.IsDefined(Overflow))
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"ListenerOptions.Overflow is {(int)Overflow}, which is not an OverflowPolicy.");
        }

        if (Group is not null)
        {
            NameRules.ValidateGroup(Group);
        }
    }
}
