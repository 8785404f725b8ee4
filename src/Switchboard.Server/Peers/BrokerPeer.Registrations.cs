using System.Collections.Concurrent;
using Switchboard.Routing;

namespace Switchboard.Server;

/// <summary>What a peer registers (senders and producers, removed with it when it leaves), its triggers' general path,
/// and the gathers it starts. Refusals are <see cref="SwitchboardException"/>s the codec turns into its own errors.</summary>
internal abstract partial class BrokerPeer
{
    private readonly ConcurrentDictionary<string, ProducerRegistration> _producers = new(StringComparer.Ordinal);

    /// <summary>This peer's senders by name; the binary codec looks them up by characters on its hot path.</summary>
    protected ConcurrentDictionary<string, SenderRegistration> Senders { get; } = new(StringComparer.Ordinal);

    /// <summary>Registers a sender whose requests are relayed to this peer.</summary>
    protected async ValueTask AddSenderAsync(string name, string[] events, string[] requests, bool hasDefault, string? will, Payload willData)
    {
        EnsureRoom(Senders.Count, Broker.Options.MaxSendersPerConnection, "senders", "BrokerOptions.MaxSendersPerConnection");
        if (Identity?.Rules.Sender(Identity, name, events) is { } forbidden)
        {
            NameRules.ValidateSender(name); // a bad name is told as such, whoever asks
            throw forbidden;
        }

        var forward = _forwardRequests;
        var handlers = new Dictionary<string, RequestHandler>(StringComparer.Ordinal);
        foreach (var request in requests)
        {
            handlers[request] = forward;
        }

        var options = new SenderOptions { DefaultRequestHandler = hasDefault ? forward : null, WillEvent = will, WillData = willData };
        var registration = await Router.AddSenderAsync(Admitted, name, events, handlers, options);
        Senders[name] = registration;
    }

    /// <summary>Removes one of this peer's senders (<c>#disconnect</c> with reason closed).</summary>
    protected ValueTask RemoveSenderAsync(string name) =>
        Senders.TryRemove(name, out var registration)
            ? registration.DisposeAsync()
            : throw new SwitchboardException(ErrorCodes.UnknownSender, $"This connection has no sender named '{name}'.");

    /// <summary>
    /// The general path of a trigger (several events, or a sender the fast path did not find): explains refusals.
    /// <paramref name="howToDeclare"/> ends the message for a sender this peer has not registered, in the codec's terms.
    /// </summary>
    protected ValueTask Trigger(string sender, string[] events, Payload data, MessageHeaders? headers, bool retain, string howToDeclare)
    {
        if (events.Length == 0)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"A trigger of sender '{sender}' named no event; name at least one.");
        }

        if (!Senders.TryGetValue(sender, out var registration))
        {
            NameRules.ValidateSender(sender);
            throw new SwitchboardException(ErrorCodes.UnknownSender, $"This connection has not registered the sender '{sender}'; {howToDeclare} The broker stamps the sender, so a connection can only trigger its own.");
        }

        CountIn(events.Length);
        return events.Length == 1
            ? registration.TriggerAsync(events[0], data, headers, retain)
            : registration.TriggerAsync(events, data, headers, retain);
    }

    /// <summary>Registers a producer whose produces are sent to this peer; returns its name (the router picks one when
    /// none is given).</summary>
    protected string AddProducer(string? name, string? group, string[] topics)
    {
        EnsureRoom(_producers.Count, Broker.Options.MaxProducersPerConnection, "producers", "BrokerOptions.MaxProducersPerConnection");
        foreach (var topic in topics)
        {
            CheckProduce(topic);
        }

        var producer = Router.AddProducer(Admitted, topics, ForwardProduce, new ProducerOptions { Name = name, Group = group });
        _producers[producer.Name] = producer;
        return producer.Name;
    }

    /// <summary>Adds and removes topics of one of this peer's producers; every name is checked before any change.</summary>
    protected void ChangeProducerTopics(string name, IReadOnlyList<string> add, IReadOnlyList<string> remove)
    {
        if (!_producers.TryGetValue(name, out var producer))
        {
            throw new SwitchboardException(ErrorCodes.UnknownProducer, $"This connection has no producer named '{name}'.");
        }

        foreach (var topic in add.Concat(remove))
        {
            NameRules.ValidateTopic(topic);
        }

        foreach (var topic in add)
        {
            CheckProduce(topic);
        }

        foreach (var topic in add)
        {
            Router.ChangeProducerTopic(producer, topic, add: true);
        }

        foreach (var topic in remove)
        {
            Router.ChangeProducerTopic(producer, topic, add: false);
        }
    }

    private void CheckProduce(string topic)
    {
        if (Identity?.Rules.Produce(Identity, topic) is { } forbidden)
        {
            NameRules.ValidateTopic(topic);
            throw forbidden;
        }
    }

    /// <summary>Completes at once on a broker alone; in a cluster, once every other node processed what this node sent it
    /// before (a producer or result listener just changed), so a client told OK can use the change from any node.</summary>
    protected ValueTask WhenClusterKnows() => Router.Cluster?.FlushAsync() ?? default;

    /// <summary>Removes one of this peer's producers.</summary>
    protected void RemoveProducer(string name)
    {
        if (!_producers.TryRemove(name, out var producer))
        {
            throw new SwitchboardException(ErrorCodes.UnknownProducer, $"This connection has no producer named '{name}'.");
        }

        Router.RemoveProducer(producer);
    }

    /// <summary>Starts a gather for this peer: <paramref name="output"/> writes its results, its summary and results
    /// that come after the summary, in the codec's terms. Refusals (no producer...) are thrown before anything starts.</summary>
    protected void Gather(string topic, Payload data, TimeSpan ttl, MessageHeaders? headers, IGatherOutput output)
    {
        AdmitRequest();
        if (Identity?.Rules.Gather(Identity, topic) is { } forbidden)
        {
            NameRules.ValidateTopic(topic);
            throw forbidden;
        }

        var gather = Router.StartGather(topic, data, ttl, headers, Closing);
        gather.OnLate = output.Late;
        Track(PumpAsync(gather.Call, output));
    }

    private static async Task PumpAsync(GatherCall call, IGatherOutput output)
    {
        await foreach (var result in call)
        {
            output.Result(result);
        }

        output.Done(await call.Summary);
    }

    /// <summary>How one gather's progress reaches the peer that started it.</summary>
    protected interface IGatherOutput
    {
        /// <summary>One producer's result, as it arrives.</summary>
        void Result(GatherResult result);

        /// <summary>The gather ended: who answered, who did not, who failed.</summary>
        void Done(GatherSummary summary);

        /// <summary>Results that arrived after the end, counted (the total so far).</summary>
        void Late(int count);
    }
}
