using System.Buffers;
using Switchboard.Wire;

namespace Switchboard.Client;

/// <summary>A producer registered through a <see cref="BusClient"/>; gathers arrive as PRODUCE_IN frames.</summary>
internal sealed class ClientProducer : ClientRegistration, IProducer
{
    private readonly BusClient _client;
    private readonly Lock _topicsLock = new();
    private string[] _topics;
    private string? _name;

    public ClientProducer(BusClient client, string? name, string? group, string[] topics, ProducerHandler handler)
    {
        _client = client;
        _name = name;
        Group = group;
        _topics = topics;
        Handler = handler;
    }

    /// <summary>The name, as given or as the broker assigned it.</summary>
    public string Name => _name ?? string.Empty;

    public string? Group { get; }

    public IReadOnlyList<string> Topics => Volatile.Read(ref _topics);

    public ProducerHandler Handler { get; }

    public override void WriteRegistration(IBufferWriter<byte> output, bool crc, uint correlation) =>
        Frames.AddProducer(output, crc, correlation, _name, Group, Topics);

    public override void Complete(object? result)
    {
        // Keep the broker's choice, so a re-registration after a reconnect keeps the same name.
        _name ??= result as string;
        base.Complete(result);
    }

    public ValueTask AddTopicAsync(string topic, CancellationToken cancellationToken = default) => ChangeTopicAsync(topic, add: true, cancellationToken);

    public ValueTask RemoveTopicAsync(string topic, CancellationToken cancellationToken = default) => ChangeTopicAsync(topic, add: false, cancellationToken);

    /// <summary>Changes the topics kept for re-registration, then (when connected) the broker's; the broker's refusal undoes the change.</summary>
    private async ValueTask ChangeTopicAsync(string topic, bool add, CancellationToken cancellationToken)
    {
        NameRules.ValidateTopic(topic);
        if (IsRemoved)
        {
            throw Routing.ProducerRegistration.Removed(Name);
        }

        string[] before;
        lock (_topicsLock)
        {
            before = _topics;
            if (add == before.Contains(topic))
            {
                return;
            }

            Volatile.Write(ref _topics, add ? [.. before, topic] : [.. before.Where(t => t != topic)]);
        }

        try
        {
            await _client.ChangeProducerTopicAsync(this, topic, add, cancellationToken);
        }
        catch (SwitchboardException ex) when (ex.Code != ErrorCodes.ConnectionLost)
        {
            Volatile.Write(ref _topics, before);
            throw;
        }
    }

    public ValueTask DisposeAsync() => _client.RemoveAsync(this);
}
