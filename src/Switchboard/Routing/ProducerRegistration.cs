namespace Switchboard.Routing;

/// <summary>A producer registered on the router.</summary>
internal sealed class ProducerRegistration : IProducer
{
    private readonly Router _router;
    private string[] _topics;
    private int _closed;

    public ProducerRegistration(Router router, RouterSession session, string name, string[] topics, string? group, ProducerHandler handler)
    {
        _router = router;
        Session = session;
        Name = name;
        _topics = topics;
        Group = group;
        Handler = handler;
    }

    public string Name { get; }

    public IReadOnlyList<string> Topics => Volatile.Read(ref _topics);

    /// <summary>Replaced whole under the router's lock by <see cref="Router.ChangeProducerTopic"/>.</summary>
    internal string[] TopicArray
    {
        get => Volatile.Read(ref _topics);
        set => Volatile.Write(ref _topics, value);
    }

    public string? Group { get; }

    public ProducerHandler Handler { get; }

    public RouterSession Session { get; }

    public bool TryClose() => Interlocked.Exchange(ref _closed, 1) == 0;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>The error for changing the topics of a removed producer (the same on every kind of bus).</summary>
    internal static SwitchboardException Removed(string name) =>
        new(ErrorCodes.Closed, $"The producer '{name}' was removed; it cannot change its topics.");

    public ValueTask AddTopicAsync(string topic, CancellationToken cancellationToken = default)
    {
        _router.ChangeProducerTopic(this, topic, add: true);
        return default;
    }

    public ValueTask RemoveTopicAsync(string topic, CancellationToken cancellationToken = default)
    {
        _router.ChangeProducerTopic(this, topic, add: false);
        return default;
    }

    public ValueTask DisposeAsync()
    {
        _router.RemoveProducer(this);
        return default;
    }
}
