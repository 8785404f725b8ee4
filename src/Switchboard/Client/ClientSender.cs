using System.Buffers;
using System.Collections.Frozen;
using Switchboard.Routing;
using Switchboard.Wire;

namespace Switchboard.Client;

/// <summary>A sender registered through a <see cref="BusClient"/>; its triggers are frames, its requests arrive as frames.</summary>
internal sealed class ClientSender : ClientRegistration, ISender
{
    private readonly BusClient _client;
    private readonly DeclaredEvents _events;
    private readonly FrozenDictionary<string, RequestHandler> _requests;
    private readonly SenderOptions _options;

    public ClientSender(BusClient client, string name, DeclaredEvents events, Dictionary<string, RequestHandler> requests, SenderOptions options)
    {
        _client = client;
        Name = name;
        Events = events.All;
        _events = events;
        _requests = requests.ToFrozenDictionary(StringComparer.Ordinal);
        _options = options;
    }

    public string Name { get; }

    public IReadOnlyList<string> Events { get; }

    public RequestHandler? FindHandler(string request) => _requests.TryGetValue(request, out var handler) ? handler : _options.DefaultRequestHandler;

    public override void WriteRegistration(IBufferWriter<byte> output, bool crc, uint correlation) =>
        Frames.AddSender(output, crc, correlation, Name, Events, [.. _requests.Keys], _options.DefaultRequestHandler is not null, _options.WillEvent, _options.WillData);

    public ValueTask TriggerAsync(string @event, Payload data = default, MessageHeaders? headers = null, bool retain = false, CancellationToken cancellationToken = default)
    {
        Check(@event);
        using var send = SwitchboardTelemetry.StartSend(Name, @event, ref headers);
        _client.SendTrigger(Name, @event, null, data, headers, retain);
        return default;
    }

    public ValueTask TriggerAsync(IReadOnlyList<string> events, Payload data = default, MessageHeaders? headers = null, bool retain = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        foreach (var e in events)
        {
            Check(e);
        }

        using var send = SwitchboardTelemetry.SendObserved ? SwitchboardTelemetry.StartSend(Name, SwitchboardTelemetry.Destination(events), ref headers) : default;
        _client.SendTrigger(Name, null, events, data, headers, retain);
        return default;
    }

    private void Check(string @event)
    {
        if (IsRemoved)
        {
            throw SenderRegistration.Closed(Name, @event);
        }

        if (!_events.Allows(@event))
        {
            throw SenderRegistration.UndeclaredEvent(Name, @event, Events);
        }
    }

    public ValueTask DisposeAsync() => _client.RemoveAsync(this);
}
