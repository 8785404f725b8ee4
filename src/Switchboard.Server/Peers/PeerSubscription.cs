using Switchboard.Routing;

namespace Switchboard.Server;

/// <summary>A peer's subscription as the router sees it: delivering writes straight into the peer's outbound buffer
/// (no queue of its own), in the codec's encoding; closing stops delivery once and removes it from the router.</summary>
internal abstract class PeerSubscription : Subscription
{
    private int _closed;

    protected PeerSubscription(string? sender, string? pattern, string? group)
        : base(sender, pattern, group)
    {
    }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    public override async ValueTask CloseAsync(Exception? error)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        if (Unregister is { } unregister)
        {
            await unregister(this);
        }
    }
}
