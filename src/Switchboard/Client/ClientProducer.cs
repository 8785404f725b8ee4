using System.Buffers;
using Switchboard.Wire;

namespace Switchboard.Client;

/// <summary>A producer registered through a <see cref="BusClient"/>; gathers arrive as PRODUCE_IN frames.</summary>
internal sealed class ClientProducer : ClientRegistration, IProducer
{
    private readonly BusClient _client;
    private string? _name;

    public ClientProducer(BusClient client, string? name, string? group, string[] topics, ProducerHandler handler)
    {
        _client = client;
        _name = name;
        Group = group;
        Topics = topics;
        Handler = handler;
    }

    /// <summary>The name, as given or as the broker assigned it.</summary>
    public string Name => _name ?? string.Empty;

    public string? Group { get; }

    public IReadOnlyList<string> Topics { get; }

    public ProducerHandler Handler { get; }

    public override void WriteRegistration(IBufferWriter<byte> output, bool crc, uint correlation) =>
        Frames.AddProducer(output, crc, correlation, _name, Group, Topics);

    public override void Complete(object? result)
    {
        // Keep the broker's choice, so a re-registration after a reconnect keeps the same name.
        _name ??= result as string;
        base.Complete(result);
    }

    public ValueTask DisposeAsync() => _client.RemoveAsync(this);
}
