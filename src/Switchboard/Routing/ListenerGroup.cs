namespace Switchboard.Routing;

/// <summary>A queue group: listeners sharing a group name, sender and pattern. Each message goes to one member, round robin.</summary>
internal sealed class ListenerGroup : DeliveryTarget
{
    private Subscription[] _members = [];
    private uint _next;

    public ListenerGroup(string? sender, string? pattern, string name)
    {
        Sender = sender;
        Pattern = pattern;
        Name = name;
    }

    public string? Sender { get; }

    public string? Pattern { get; }

    public string Name { get; }

    public int Count => Volatile.Read(ref _members).Length;

    /// <summary>Adds a member (router lock held).</summary>
    public void Add(Subscription listener) => _members = [.. _members, listener];

    /// <summary>Removes a member (router lock held); true when the group is now empty.</summary>
    public bool Remove(Subscription listener)
    {
        _members = [.. _members.Where(m => m != listener)];
        return _members.Length == 0;
    }

    public override ValueTask DeliverAsync(in BusMessage message)
    {
        var members = Volatile.Read(ref _members);
        if (members.Length == 0)
        {
            return default;
        }

        var pick = Interlocked.Increment(ref _next) % (uint)members.Length;
        return members[pick].DeliverAsync(message);
    }
}
