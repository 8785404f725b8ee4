using System.Collections.Concurrent;

namespace Switchboard.Routing;

internal sealed partial class Router
{
    private readonly ConcurrentDictionary<string, TopicProducers> _producers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ProducerRegistration> _producerNames = new(StringComparer.Ordinal);
    private int _producerSequence;

    /// <summary>How unnamed producers are named (<c>producer-1</c>...); a cluster node makes it its own, so two nodes
    /// never pick the same name.</summary>
    public string ProducerNamePrefix { get; set; } = "producer-";

    /// <summary>Checks a producer's topics, handler, name and group (the same on every kind of bus); returns the options to use.</summary>
    public static ProducerOptions ValidateProducer(IReadOnlyList<string> topics, ProducerHandler handler, ProducerOptions? options)
    {
        ArgumentNullException.ThrowIfNull(topics);
        ArgumentNullException.ThrowIfNull(handler);
        if (topics.Count == 0)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, "A producer needs at least one topic.");
        }

        foreach (var topic in topics)
        {
            NameRules.ValidateTopic(topic);
        }

        if (topics.Count > MaxProducerTopics)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"A producer was given {topics.Count} topics; a producer may answer at most {MaxProducerTopics}.");
        }

        options ??= new ProducerOptions();
        if (options.Name is not null)
        {
            NameRules.ValidateProducer(options.Name);
        }

        if (options.Group is not null)
        {
            NameRules.ValidateGroup(options.Group);
        }

        return options;
    }

    public ProducerRegistration AddProducer(RouterSession session, IReadOnlyList<string> topics, ProducerHandler handler, ProducerOptions? options)
    {
        options = ValidateProducer(topics, handler, options);

        lock (_lock)
        {
            var name = options.Name;
            while (name is null || (options.Name is null && _producerNames.ContainsKey(name)))
            {
                name = $"{ProducerNamePrefix}{++_producerSequence}";
            }

            if (_producerNames.ContainsKey(name))
            {
                throw new SwitchboardException(ErrorCodes.ProducerExists, $"The producer name '{name}' is already taken on this bus; producer names are unique so gather summaries can tell producers apart.");
            }

            var producer = new ProducerRegistration(this, session, name, [.. topics.Distinct()], options.Group, handler);
            session.Add(producer);
            _producerNames.Add(name, producer);
            foreach (var topic in producer.Topics)
            {
                _producers[topic] = _producers.GetValueOrDefault(topic, TopicProducers.Empty).With(producer);
            }

            Cluster?.ProducerChanged(producer, removed: false);
            return producer;
        }
    }

    /// <summary>The producer registered under <paramref name="name"/> (a cluster node asks it for another node's gather).</summary>
    public bool TryGetProducer(string name, out ProducerRegistration producer)
    {
        lock (_lock)
        {
            return _producerNames.TryGetValue(name, out producer!);
        }
    }

    /// <summary>Adds or removes one topic of a live producer: its other topics stay answered throughout.</summary>
    public void ChangeProducerTopic(ProducerRegistration producer, string topic, bool add)
    {
        NameRules.ValidateTopic(topic);
        lock (_lock)
        {
            if (producer.IsClosed)
            {
                throw ProducerRegistration.Removed(producer.Name);
            }

            var topics = producer.TopicArray;
            if (add == topics.Contains(topic))
            {
                return;
            }

            if (add && topics.Length >= MaxProducerTopics)
            {
                throw new SwitchboardException(ErrorCodes.InvalidArgument, $"The producer '{producer.Name}' already answers {topics.Length} topics; a producer may answer at most {MaxProducerTopics}.");
            }

            producer.TopicArray = add ? [.. topics, topic] : [.. topics.Where(t => t != topic)];
            var current = _producers.GetValueOrDefault(topic, TopicProducers.Empty);
            SetProducers(topic, add ? current.With(producer) : current.Without(producer));
            Cluster?.ProducerChanged(producer, removed: false);
        }
    }

    /// <summary>Replaces a topic's producers (under the router lock); a topic left with none is forgotten.</summary>
    private void SetProducers(string topic, TopicProducers producers)
    {
        if (producers.IsEmpty)
        {
            _producers.TryRemove(topic, out _);
        }
        else
        {
            _producers[topic] = producers;
        }
    }

    /// <summary>The most topics one producer may answer.</summary>
    public const int MaxProducerTopics = 1024;

    public void RemoveProducer(ProducerRegistration producer)
    {
        if (!producer.TryClose())
        {
            return;
        }

        lock (_lock)
        {
            producer.Session.Remove(producer);
            _producerNames.Remove(producer.Name);
            foreach (var topic in producer.Topics)
            {
                SetProducers(topic, _producers.GetValueOrDefault(topic, TopicProducers.Empty).Without(producer));
            }

            Cluster?.ProducerChanged(producer, removed: true);
        }
    }

    public GatherCall Gather(string topic, Payload data, TimeSpan ttl, MessageHeaders? headers, CancellationToken cancellationToken) =>
        StartGather(topic, data, ttl, headers, cancellationToken).Call;

    public LocalGather StartGather(string topic, Payload data, TimeSpan ttl, MessageHeaders? headers, CancellationToken cancellationToken)
    {
        NameRules.ValidateTopic(topic);
        if (ttl <= TimeSpan.Zero)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"The gather ttl is {ttl}; it must be positive.");
        }

        var chosen = _producers.GetValueOrDefault(topic, TopicProducers.Empty).Select();
        var call = new LocalGather(this, topic, [.. chosen.Select(p => p.Name)], ttl, cancellationToken);
        foreach (var producer in chosen)
        {
            var request = new GatherRequest(topic, producer.Name, data, headers ?? MessageHeaders.Empty);
            _ = RunProducerAsync(call, producer, request);
        }

        return call;
    }

    private static async Task RunProducerAsync(LocalGather call, ProducerRegistration producer, GatherRequest request)
    {
        // Producers are free to block (producers that sleep, say): an application's producer runs on a handler thread
        // (LocalBus and BusClient offload it), a broker's forwarder only writes a frame.
        try
        {
            var result = await producer.Handler(request, call.ProducerToken);
            await call.OnResultAsync(producer.Name, result);
        }
        catch (Exception ex)
        {
            call.OnFailure(producer.Name, ex);
        }
    }

    /// <summary>Hands a gather result to the topic's result listeners.</summary>
    internal async ValueTask DeliverResultAsync(string topic, BusMessage message)
    {
        Cluster?.ResultDelivered(message);
        await DeliverLocalResultAsync(topic, message);
    }

    /// <summary>Hands a result to this router's result listeners only (a cluster node, for another node's gather).</summary>
    internal async ValueTask DeliverLocalResultAsync(string topic, BusMessage message)
    {
        if (_resultListeners.TryGetValue(topic, out var listeners))
        {
            foreach (var listener in listeners)
            {
                await listener.DeliverAsync(message);
            }
        }
    }
}
