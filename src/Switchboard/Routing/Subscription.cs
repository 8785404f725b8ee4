namespace Switchboard.Routing;

/// <summary>
/// A registration in the routing index for <c>(sender or any, pattern or any)</c>, optionally in a queue group:
/// an in-process <see cref="Listener"/>, or a broker connection's subscription that writes frames.
/// </summary>
internal abstract class Subscription : DeliveryTarget
{
    protected Subscription(string? sender, string? pattern, string? group)
    {
        Sender = sender;
        Event = pattern;
        Group = group;
    }

    /// <summary>The sender listened to, or null for any.</summary>
    public string? Sender { get; }

    /// <summary>The event pattern, or null for any.</summary>
    public string? Event { get; }

    /// <summary>The queue group, or null.</summary>
    public string? Group { get; }

    /// <summary>The session that owns it.</summary>
    internal RouterSession? Session { get; set; }

    /// <summary>Removes it from the router; set by the router when it registers the subscription.</summary>
    internal Func<Subscription, ValueTask>? Unregister { get; set; }

    /// <summary>Stops delivery and removes the subscription; <paramref name="error"/> says why when it was cut.</summary>
    public abstract ValueTask CloseAsync(Exception? error);
}
