using System.Buffers;
using System.Collections.Frozen;
using System.Text.Json;

namespace Switchboard.Routing;

internal sealed partial class Router
{
    private volatile SystemEvents? _system;

    /// <summary>Reserves <paramref name="events"/> for the sender <paramref name="owner"/> alone (the broker's own
    /// notices, such as <c>#slow_consumer</c>): any other sender that declares one, names one as its will, or triggers
    /// one through a declared pattern is refused with <c>reserved_name</c>, so nobody can fake the broker's alerts.</summary>
    public void ReserveSystemEvents(string owner, IReadOnlyList<string> events) =>
        _system = new SystemEvents(owner, events.ToFrozenSet(StringComparer.Ordinal));

    /// <summary>The refusal for <paramref name="sender"/> declaring or triggering <paramref name="event"/> when that is a
    /// system event of another sender; null otherwise.</summary>
    public SwitchboardException? RefuseSystemEvent(string sender, string @event) =>
        _system is { } system && system.Events.Contains(@event) && sender != system.Owner
            ? new SwitchboardException(ErrorCodes.ReservedName, $"Sender '{sender}' cannot declare or trigger '{@event}': it is a system event that only the broker's own sender '{system.Owner}' raises. Listen to it instead.")
            : null;

    private sealed record SystemEvents(string Owner, FrozenSet<string> Events);

    public async ValueTask<SenderRegistration> AddSenderAsync(RouterSession session, string name, IReadOnlyList<string> events, Dictionary<string, RequestHandler>? requests, SenderOptions? options)
    {
        requests ??= [];
        options ??= new SenderOptions();
        var declared = ValidateSender(name, events, requests.Keys, options);
        foreach (var e in options.WillEvent is { } will ? declared.All.Append(will) : declared.All)
        {
            if (RefuseSystemEvent(name, e) is { } refusal)
            {
                throw refusal;
            }
        }

        foreach (var handler in requests.Values)
        {
            ArgumentNullException.ThrowIfNull(handler);
        }

        var sender = new SenderRegistration(this, session, name, declared, requests, options);
        if (Cluster is { } cluster)
        {
            if (_senders.ContainsKey(name))
            {
                throw SenderTaken(name); // taken here: the same error at once, without asking the cluster
            }

            await cluster.ClaimAsync(sender);
        }

        try
        {
            Register(session, sender);
        }
        catch
        {
            Cluster?.Unclaim(sender);
            throw;
        }

        if (Cluster is { } joined)
        {
            await joined.AddedAsync(sender);
        }

        await sender.RaiseAsync(NameRules.ConnectEvent, PresencePayload(sender.Info, null));
        return sender;
    }

    private void Register(RouterSession session, SenderRegistration sender)
    {
        lock (_lock)
        {
            if (!_senders.TryAdd(sender.Name, sender))
            {
                throw SenderTaken(sender.Name);
            }

            try
            {
                session.Add(sender);
            }
            catch
            {
                _senders.TryRemove(sender.Name, out _);
                throw;
            }
        }
    }

    /// <summary>The error for a sender name that is taken, on this node or (in a cluster) on another.</summary>
    public static SwitchboardException SenderTaken(string name) =>
        new(ErrorCodes.SenderExists, $"The sender name '{name}' is already taken on this bus; sender names are unique across the whole bus. Pick another name or remove the other sender first.");

    /// <summary>Checks a sender's name, events (and channel patterns), request names and last will; returns what it declared, without repeats.</summary>
    public static DeclaredEvents ValidateSender(string name, IReadOnlyList<string> events, IEnumerable<string> requests, SenderOptions options)
    {
        NameRules.ValidateSender(name);
        var declared = DeclaredEvents.Validate(name, events);
        long chars = 0;
        foreach (var e in declared.All)
        {
            chars += e.Length;
        }

        var count = 0;
        foreach (var request in requests)
        {
            NameRules.ValidateRequest(request);
            chars += request.Length;
            if (++count > NameRules.MaxDeclaredEvents)
            {
                throw new SwitchboardException(ErrorCodes.InvalidArgument, $"Sender '{name}' declares more than {NameRules.MaxDeclaredEvents} request names; a default request handler answers any name.");
            }
        }

        if (chars > NameRules.MaxDeclarationChars)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"Sender '{name}' declares events and requests of {chars} characters in all; at most {NameRules.MaxDeclarationChars} are allowed (presence events list them). Declare a channel pattern (for example '#readings.>') instead of many events.");
        }

        if (options.WillEvent is { } will && !declared.Allows(will))
        {
            throw new SwitchboardException(ErrorCodes.UndeclaredEvent, $"Sender '{name}' names '{will}' as its last will but does not declare it; add it to the sender's events.");
        }

        return declared;
    }

    public async ValueTask RemoveSenderAsync(SenderRegistration sender, DisconnectReason reason)
    {
        if (!sender.TryClose())
        {
            return;
        }

        lock (_lock)
        {
            _senders.TryRemove(KeyValuePair.Create(sender.Name, sender));
            sender.Session.Remove(sender);
            if (Options.RetainedLifetime == RetainedLifetime.WhileSenderOnline)
            {
                _retained.RemoveSender(sender.Name);
            }
        }

        if (reason is DisconnectReason.ConnectionLost or DisconnectReason.NodeLost && sender.WillEvent is { } will)
        {
            await sender.RaiseAsync(will, sender.WillData);
        }

        if (Cluster is { } cluster)
        {
            await cluster.RemovedAsync(sender, reason);
        }

        Log.SenderLeft(sender.Name, reason);
        await sender.RaiseAsync(NameRules.DisconnectEvent, PresencePayload(sender.Info, reason));
    }

    public IReadOnlyList<SenderInfo> GetSenders() =>
        [.. _senders.Values.Select(s => s.Info).OrderBy(s => s.Name, StringComparer.Ordinal)];

    public bool TryGetSender(string name, out SenderRegistration sender) => _senders.TryGetValue(name, out sender!);

    /// <summary>
    /// Keeps <paramref name="message"/> as its event's retained value; an empty payload clears it. As in MQTT, by default
    /// a retained value outlives its sender (a new listener still learns the last reading of a device that went away);
    /// <see cref="BusOptions.RetainedLifetime"/> can end it with its sender. Bounded (see <see cref="RetainedStore"/>).
    /// </summary>
    public void Retain(BusMessage message)
    {
        message = message.Detach();
        lock (_lock)
        {
            _retained.Set(message);
            Cluster?.Retained(message); // under the lock: ordered with a node's replay (ForEachRetained)
        }
    }

    /// <summary>How many retained values this router holds.</summary>
    public int RetainedCount
    {
        get
        {
            lock (_lock)
            {
                return _retained.Count;
            }
        }
    }

    /// <summary>Runs <paramref name="each"/> on every retained value, under the lock <see cref="Retain"/> sets them under.</summary>
    public void ForEachRetained<TState>(TState state, Action<TState, BusMessage> each)
    {
        lock (_lock)
        {
            foreach (var message in _retained.Matching(null, null))
            {
                each(state, message);
            }
        }
    }

    /// <summary>How <c>#disconnect</c> names a reason.</summary>
    public static string ReasonName(DisconnectReason reason) => reason switch
    {
        DisconnectReason.Closed => "closed",
        DisconnectReason.NodeLost => "node_lost",
        _ => "connection_lost",
    };

    /// <summary>The data of <c>#connect</c> (<paramref name="reason"/> null) and <c>#disconnect</c>:
    /// <c>{"name":..., "events":[...], "requests":[...]}</c> plus <c>"reason"</c> on leaving.</summary>
    private static Payload PresencePayload(SenderInfo info, DisconnectReason? reason)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("name", info.Name);
            json.WriteStartArray("events");
            foreach (var e in info.Events)
            {
                json.WriteStringValue(e);
            }

            json.WriteEndArray();
            json.WriteStartArray("requests");
            foreach (var r in info.Requests)
            {
                json.WriteStringValue(r);
            }

            json.WriteEndArray();
            if (reason is { } why)
            {
                json.WriteString("reason", ReasonName(why));
            }

            json.WriteEndObject();
        }

        return new Payload(buffer.WrittenMemory);
    }
}
