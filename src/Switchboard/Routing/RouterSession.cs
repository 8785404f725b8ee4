namespace Switchboard.Routing;

/// <summary>
/// One participant of the router: a <see cref="LocalBus"/>, or one broker connection. It owns its senders,
/// listeners and producers, so closing it (cleanly or not) removes exactly what it registered.
/// </summary>
internal sealed class RouterSession
{
    private readonly Lock _lock = new();
    private readonly HashSet<object> _registrations = [];
    private bool _closed;

    public RouterSession(string name) => Name = name;

    public string Name { get; }

    public bool IsClosed
    {
        get
        {
            lock (_lock)
            {
                return _closed;
            }
        }
    }

    public void Add(object registration)
    {
        lock (_lock)
        {
            if (_closed)
            {
                throw new SwitchboardException(ErrorCodes.Closed, $"The bus '{Name}' is closed; it cannot register anything more.");
            }

            _registrations.Add(registration);
        }
    }

    public void Remove(object registration)
    {
        lock (_lock)
        {
            _registrations.Remove(registration);
        }
    }

    /// <summary>What the session holds now (senders, subscriptions, listeners, producers).</summary>
    public object[] Snapshot()
    {
        lock (_lock)
        {
            return [.. _registrations];
        }
    }

    /// <summary>Marks the session closed and hands back what it still held.</summary>
    public object[] Close()
    {
        lock (_lock)
        {
            _closed = true;
            var all = _registrations.ToArray();
            _registrations.Clear();
            return all;
        }
    }
}
