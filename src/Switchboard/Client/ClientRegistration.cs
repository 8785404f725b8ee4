using System.Buffers;

namespace Switchboard.Client;

/// <summary>
/// Something a <see cref="BusClient"/> registered on the broker (a sender, a listener, a producer). The client keeps
/// them so that after a reconnect it can register them again, in order, before anything it buffered meanwhile.
/// </summary>
internal abstract class ClientRegistration : IPendingCall
{
    private readonly TaskCompletionSource<string?> _registered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes with the broker's OK detail the first time the broker accepts it, or fails with its refusal.</summary>
    public Task<string?> Registered => _registered.Task;

    /// <summary>True when it was made while disconnected: its caller did not wait for the broker, so a refusal is
    /// reported through <see cref="BusClient.Error"/>.</summary>
    public bool Buffered { get; set; }

    /// <summary>True once removed by its owner: not registered again.</summary>
    public bool IsRemoved { get; set; }

    /// <summary>Writes the frame that registers it, answered on <paramref name="correlation"/>.</summary>
    public abstract void WriteRegistration(IBufferWriter<byte> output, bool crc, uint correlation);

    public virtual void Complete(object? result) => _registered.TrySetResult(result as string);

    public void Fail(Exception error) => _registered.TrySetException(error);
}

/// <summary>Something waiting for the broker's answer on a correlation id.</summary>
internal interface IPendingCall
{
    void Complete(object? result);

    void Fail(Exception error);
}

/// <summary>A call waiting for one answer.</summary>
internal class PendingCall : TaskCompletionSource<object?>, IPendingCall
{
    public PendingCall()
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
    }

    public void Complete(object? result) => TrySetResult(result);

    public void Fail(Exception error) => TrySetException(error);
}
