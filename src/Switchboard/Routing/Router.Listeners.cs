using System.Collections.Concurrent;

namespace Switchboard.Routing;

internal sealed partial class Router
{
    private readonly Dictionary<(string? Sender, string? Pattern, string Group), ListenerGroup> _groups = [];
    private readonly ConcurrentDictionary<string, Listener[]> _resultListeners = new(StringComparer.Ordinal);

    public async ValueTask<Listener> AddListenerAsync(RouterSession session, string? sender, string? pattern, MessageHandler? handler, ListenerOptions? options)
    {
        ValidateSubscription(sender, pattern);
        options ??= Options.DefaultListenerOptions;
        options.Validate();
        var listener = new Listener(Counters, Log, sender, pattern, handler, options);
        await AddSubscriptionAsync(session, listener, options.ReceiveRetained);
        return listener;
    }

    /// <summary>The most patterns one listener may hold.</summary>
    public const int MaxListenerPatterns = 256;

    /// <summary>Registers one listener for several patterns: each pattern is a <see cref="PatternFeed"/> in the index
    /// feeding the one listener; the patterns do not overlap, so each message arrives once.</summary>
    public async ValueTask<Listener> AddListenerAsync(RouterSession session, string? sender, IReadOnlyList<string> patterns, MessageHandler? handler, ListenerOptions? options)
    {
        var distinct = ValidateSubscriptions(sender, patterns);
        if (distinct.Length == 1)
        {
            return await AddListenerAsync(session, sender, distinct[0], handler, options);
        }

        options ??= Options.DefaultListenerOptions;
        options.Validate();
        var listener = new Listener(Counters, Log, sender, distinct[0], handler, options) { Patterns = distinct };
        var feeds = Array.ConvertAll(distinct, pattern => new PatternFeed(listener, sender, pattern, options.Group));
        listener.Unregister = async _ =>
        {
            foreach (var feed in feeds)
            {
                await feed.CloseAsync(null);
            }
        };
        try
        {
            foreach (var feed in feeds)
            {
                await AddSubscriptionAsync(session, feed, options.ReceiveRetained);
            }
        }
        catch
        {
            await listener.CloseAsync(null);
            throw;
        }

        return listener;
    }

    /// <summary>Checks the patterns of a listener of several: each as <see cref="ValidateSubscription"/> does, none null,
    /// no two overlapping; returns them without repeats.</summary>
    public static string[] ValidateSubscriptions(string? sender, IReadOnlyList<string> patterns)
    {
        if (patterns.Count == 0 || patterns.Count > MaxListenerPatterns)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"A listener of several patterns was given {patterns.Count}; give 1 to {MaxListenerPatterns}.");
        }

        var distinct = new List<string>(patterns.Count);
        foreach (var pattern in patterns)
        {
            if (pattern is null)
            {
                throw new SwitchboardException(ErrorCodes.InvalidArgument, "A listener of several patterns cannot hold null (any event); listen with the event null alone instead.");
            }

            ValidateSubscription(sender, pattern);
            if (distinct.Contains(pattern))
            {
                continue;
            }

            if (distinct.Find(other => EventPattern.Overlaps(other, pattern)) is { } overlapping)
            {
                throw new SwitchboardException(ErrorCodes.InvalidArgument, $"The patterns '{overlapping}' and '{pattern}' overlap: one event could match both, and a listener receives each message once. Keep only the wider pattern, or use two listeners.");
            }

            distinct.Add(pattern);
        }

        return [.. distinct];
    }

    /// <summary>Checks a listener's sender and pattern; a listener for any sender must name a channel pattern or none.</summary>
    public static void ValidateSubscription(string? sender, string? pattern)
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
    }

    /// <summary>Registers a validated subscription (its group included) and hands it the retained values it matches.</summary>
    public async ValueTask AddSubscriptionAsync(RouterSession session, Subscription subscription, bool receiveRetained)
    {
        if (subscription.Group is not null)
        {
            NameRules.ValidateGroup(subscription.Group);
        }

        subscription.Session = session;
        subscription.Unregister = RemoveSubscriptionAsync;
        var sender = subscription.Sender;
        var pattern = subscription.Event;
        List<BusMessage> retained;
        lock (_lock)
        {
            session.Add(subscription);
            if (subscription.Group is { } group)
            {
                if (!_groups.TryGetValue((sender, pattern, group), out var members))
                {
                    members = new ListenerGroup(sender, pattern, group);
                    _groups.Add((sender, pattern, group), members);
                    Listeners.Add(sender, pattern, members);
                }

                members.Add(subscription);
            }
            else
            {
                Listeners.Add(sender, pattern, subscription);
            }

            retained = receiveRetained && _retained.Count > 0 ? _retained.Matching(sender, pattern) : [];
        }

        if (Cluster is { } cluster)
        {
            await cluster.SubscribedAsync(subscription);
        }

        foreach (var message in retained)
        {
            await subscription.DeliverAsync(message);
        }
    }

    private ValueTask RemoveSubscriptionAsync(Subscription subscription)
    {
        subscription.Session?.Remove(subscription);
        lock (_lock)
        {
            if (subscription.Group is { } group)
            {
                var key = (subscription.Sender, subscription.Event, group);
                if (_groups.TryGetValue(key, out var members) && members.Remove(subscription))
                {
                    _groups.Remove(key);
                    Listeners.Remove(subscription.Sender, subscription.Event, members);
                }
            }
            else
            {
                Listeners.Remove(subscription.Sender, subscription.Event, subscription);
            }
        }

        Cluster?.Unsubscribed(subscription);
        ScheduleStalePlanSweep();
        return default;
    }

    /// <summary>How long after a listener leaves the senders' stale plans are dropped: one sweep for a burst of departures
    /// (thousands of connections closing), soon enough that what they held comes back while the broker is still quiet.</summary>
    internal static readonly TimeSpan StalePlanSweepDelay = TimeSpan.FromSeconds(1);

    private int _sweepScheduled;

    /// <summary>A sender that does not trigger again keeps the plan naming a departed listener (and so its peer, with its
    /// buffers): one sweep, a moment after the departures, drops every plan made before them.</summary>
    private void ScheduleStalePlanSweep()
    {
        if (Interlocked.Exchange(ref _sweepScheduled, 1) == 0)
        {
            _ = SweepStalePlansAsync();
        }
    }

    private async Task SweepStalePlansAsync()
    {
        await Task.Delay(StalePlanSweepDelay, Time).ConfigureAwait(false);
        Volatile.Write(ref _sweepScheduled, 0); // before sweeping: a departure from now on schedules the next sweep
        foreach (var sender in _senders.Values)
        {
            sender.ForgetStalePlans();
        }
    }

    public Listener AddResultListener(RouterSession session, string topic, MessageHandler handler, ListenerOptions? options)
    {
        NameRules.ValidateTopic(topic);
        options ??= Options.DefaultListenerOptions;
        options.Validate();
        var listener = new Listener(Counters, Log, null, topic, handler, options, Listener.ResultListenerKind) { Unregister = RemoveResultListenerAsync, Session = session };
        lock (_lock)
        {
            session.Add(listener);
            _resultListeners[topic] = _resultListeners.TryGetValue(topic, out var existing) ? [.. existing, listener] : [listener];
            Cluster?.ResultListenerChanged(listener, topic, removed: false);
        }

        return listener;
    }

    private ValueTask RemoveResultListenerAsync(Subscription listener)
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

                Cluster?.ResultListenerChanged(listener, topic, removed: true);
            }
        }

        return default;
    }
}
