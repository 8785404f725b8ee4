namespace Switchboard.Routing;

/// <summary>
/// One pattern of a listener of several, as the routing index sees it: it hands what it receives to that listener,
/// whose queue, policy and callback serve all its patterns. Closing any feed (its session ended) closes the listener.
/// </summary>
internal sealed class PatternFeed : Subscription
{
    private readonly Listener _listener;
    private int _closed;

    public PatternFeed(Listener listener, string? sender, string pattern, string? group)
        : base(sender, pattern, group) => _listener = listener;

    public override ValueTask DeliverAsync(in BusMessage message) => _listener.DeliverAsync(message);

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

        await _listener.CloseAsync(error);
    }
}
