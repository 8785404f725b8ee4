namespace Switchboard.Routing;

/// <summary>A producer registered on the router.</summary>
internal sealed class ProducerRegistration : IProducer
{
    private readonly Router _router;
    private int _closed;

    public ProducerRegistration(Router router, RouterSession session, string name, string[] topics, string? group, ProducerHandler handler)
    {
        _router = router;
        Session = session;
        Name = name;
        Topics = topics;
        Group = group;
        Handler = handler;
    }

    public string Name { get; }

    public IReadOnlyList<string> Topics { get; }

    public string? Group { get; }

    public ProducerHandler Handler { get; }

    public RouterSession Session { get; }

    public bool TryClose() => Interlocked.Exchange(ref _closed, 1) == 0;

    public ValueTask DisposeAsync()
    {
        _router.RemoveProducer(this);
        return default;
    }
}
