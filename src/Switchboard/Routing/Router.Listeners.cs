using System.Collections.Concurrent;

namespace Switchboard.Routing;

internal sealed partial class Router
{
    private readonly Dictionary<(string? Sender, string? Pattern, string Group), ListenerGroup> _groups = [];
    private readonly ConcurrentDictionary<string, Listener[]> _resultListeners = new(StringComparer.Ordinal);

    public async ValueTask<Listener> AddListenerAsync(RouterSession session, string? sender, string? pattern, MessageHandler? handler, ListenerOptions? options)
    {
        if (sender is not null)
        {
            NameRules.ValidateSender(sender);
        }

        if (pattern is not null)
        {
            NameRules.ValidatePattern(pattern);
            if (sender is null && !NameRules.IsChannel(pattern))
            {
                throw new SwitchboardException(ErrorCodes.TargetedNeedsSender, $"'{pattern}' is a targeted event pattern: a listener for any sender cannot receive targeted events. Name the sender (ListenAsync(\"<sender>\", \"{pattern}\")), or, if the senders trigger it as a channel event, listen to '#{pattern}'.");
            }
        }

        options ??= Options.DefaultListenerOptions;
        options.Validate();
        var listener = new Listener(this, sender, pattern, handler, options) { Unregister = RemoveListenerAsync, Session = session };
        List<BusMessage> retained;
        lock (_lock)
        {
            session.Add(listener);
            if (options.Group is { } group)
            {
                if (!_groups.TryGetValue((sender, pattern, group), out var members))
                {
                    members = new ListenerGroup(sender, pattern, group);
                    _groups.Add((sender, pattern, group), members);
                    Listeners.Add(sender, pattern, members);
                }

                members.Add(listener);
            }
            else
            {
                Listeners.Add(sender, pattern, listener);
            }

            retained = options.ReceiveRetained && _retained.Count > 0 ? RetainedFor(sender, pattern) : [];
        }

        foreach (var message in retained)
        {
            await listener.DeliverAsync(message);
        }

        return listener;
    }

    private ValueTask RemoveListenerAsync(Listener listener)
    {
        listener.Session?.Remove(listener);
        lock (_lock)
        {
            if (listener.Group is { } group)
            {
                var key = (listener.Sender, listener.Event, group);
                if (_groups.TryGetValue(key, out var members) && members.Remove(listener))
                {
                    _groups.Remove(key);
                    Listeners.Remove(listener.Sender, listener.Event, members);
                }
            }
            else
            {
                Listeners.Remove(listener.Sender, listener.Event, listener);
            }
        }

        return default;
    }

    public Listener AddResultListener(RouterSession session, string topic, MessageHandler handler, ListenerOptions? options)
    {
        NameRules.ValidateTopic(topic);
        options ??= Options.DefaultListenerOptions;
        options.Validate();
        var listener = new Listener(this, null, topic, handler, options, "result listener") { Unregister = RemoveResultListenerAsync, Session = session };
        lock (_lock)
        {
            session.Add(listener);
            _resultListeners[topic] = _resultListeners.TryGetValue(topic, out var existing) ? [.. existing, listener] : [listener];
        }

        return listener;
    }

    private ValueTask RemoveResultListenerAsync(Listener listener)
    {
        listener.Session?.Remove(listener);
        lock (_lock)
        {
            var topic = listener.Event!;
            if (_resultListeners.TryGetValue(topic, out var existing))
            {
                Listener[] rest = [.. existing.Where(l => l != listener)];
                if (rest.Length == 0)
                {
                    _resultListeners.TryRemove(topic, out _);
                }
                else
                {
                    _resultListeners[topic] = rest;
                }
            }
        }

        return default;
    }
}
