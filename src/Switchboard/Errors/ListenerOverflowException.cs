namespace Switchboard;

/// <summary>
/// A listener using <see cref="OverflowPolicy.Fail"/> fell behind by more than its capacity. The bus cut it (it receives
/// nothing more) and its reader sees this error after the messages it had already accepted.
/// </summary>
public sealed class ListenerOverflowException : SwitchboardException
{
    /// <summary>Creates the error for a listener of the given capacity.</summary>
    public ListenerOverflowException(int capacity)
        : base(ErrorCodes.Overflow, $"The listener fell behind by more than its capacity of {capacity} messages and was cut (OverflowPolicy.Fail). Raise ListenerOptions.Capacity, read faster, or choose another ListenerOptions.Overflow policy.")
    {
        Capacity = capacity;
    }

    /// <summary>The capacity the listener had.</summary>
    public int Capacity { get; }
}
