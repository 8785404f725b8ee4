using System.Collections.Concurrent;
using StackExchange.Redis;
using Switchboard.Routing;
using Switchboard.Server;
using Switchboard.Wire;

namespace Switchboard.Redis;

/// <summary>What the router tells the node (<see cref="IRouterCluster"/>): local senders and subscriptions coming and
/// going, which the node claims in Redis and announces to every other node.</summary>
public sealed partial class ClusterNode : IRouterCluster
{
    // Announcements and the state snapshot of a new link are written under this lock, so every link sees one order.
    private readonly Lock _state = new();
    private readonly ConcurrentDictionary<string, SenderRegistration> _claimed = new(StringComparer.Ordinal);
    private readonly Dictionary<(string? Sender, string? Pattern), LocalInterest> _interest = [];
    private readonly ConcurrentDictionary<Subscription, (string? Sender, string? Pattern)> _counted = new();
    private readonly ConcurrentDictionary<uint, Announcement> _announcements = new();
    private readonly ConcurrentDictionary<RouterSession, NodeLink> _linkSessions = new();
    private uint _nextInterestId;
    private uint _nextCorrelation;

    /// <summary>True for what the node registers itself (its delivery target, mirrors of remote senders) and the
    /// broker's own sender, which every node has: none of them is claimed or announced.</summary>
    private bool IsOwn(RouterSession? session, string? sender = null) =>
        session is null || session == _own || _linkSessions.ContainsKey(session) || sender == Broker.SystemSender;

    async ValueTask IRouterCluster.ClaimAsync(SenderRegistration sender)
    {
        if (IsOwn(sender.Session, sender.Name))
        {
            return;
        }

        if (!_claimed.TryAdd(sender.Name, sender))
        {
            throw Router.SenderTaken(sender.Name);
        }

        if (!_connected)
        {
            return; // claimed when Redis is back (see RejoinAsync)
        }

        try
        {
            if (await ClaimInRedisAsync(sender.Name) is not null)
            {
                _claimed.TryRemove(new KeyValuePair<string, SenderRegistration>(sender.Name, sender));
                throw Router.SenderTaken(sender.Name);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            OnRedisFailure(ex); // kept here; claimed again when Redis is back
        }
    }

    /// <summary>Claims a name on this node's lease; null when claimed, else the member holding it.</summary>
    private async Task<string?> ClaimInRedisAsync(string name)
    {
        var result = await Database.ScriptEvaluateAsync(RedisScripts.Claim, [NameKey(name)], [Member, _keyPrefix + "node:"]);
        return result.IsNull ? null : result.ToString();
    }

    private async Task ReclaimNamesAsync()
    {
        foreach (var (name, _) in _claimed)
        {
            if (await ClaimInRedisAsync(name) is { } owner)
            {
                Counters.AddClash();
                Log.NameClash(name, owner);
            }
        }
    }

    void IRouterCluster.Unclaim(SenderRegistration sender) => _ = ReleaseAsync(sender).AsTask();

    /// <summary>Gives the name back in Redis (if this node still holds it there), before the other nodes are told.</summary>
    private async ValueTask ReleaseAsync(SenderRegistration sender)
    {
        if (!_claimed.TryRemove(new KeyValuePair<string, SenderRegistration>(sender.Name, sender)) || !_connected)
        {
            return;
        }

        try
        {
            await Database.ScriptEvaluateAsync(RedisScripts.Release, [NameKey(sender.Name)], [Member]);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            OnRedisFailure(ex); // the claim dies with the lease, or is taken over once this node's lease is gone
        }
    }

    ValueTask IRouterCluster.AddedAsync(SenderRegistration sender)
    {
        if (IsOwn(sender.Session, sender.Name))
        {
            return default;
        }

        lock (_state)
        {
            return Announce(sender, static (link, corr, s) => link.Write((corr, s), static (output, crc, in a) => WriteSender(output, a.corr, a.s)));
        }
    }

    private static void WriteSender(System.Buffers.IBufferWriter<byte> output, uint correlation, SenderRegistration s) =>
        Frames.AddSender(output, false, correlation, s.Name, s.Info.Events, s.Info.Requests, s.Info.HasDefaultHandler, s.WillEvent, s.WillData);

    async ValueTask IRouterCluster.RemovedAsync(SenderRegistration sender, DisconnectReason reason)
    {
        if (IsOwn(sender.Session, sender.Name))
        {
            ForgetMirror(sender);
            return;
        }

        await ReleaseAsync(sender);
        ValueTask told;
        lock (_state)
        {
            told = Announce((sender.Name, reason), static (link, corr, g) =>
                link.Write((corr, g.Name, g.reason), static (output, crc, in a) => NodeFrames.WriteSenderGone(output, a.corr, a.Name, a.reason)));
        }

        await told;
    }

    ValueTask IRouterCluster.FlushAsync()
    {
        lock (_state)
        {
            return Announce(0, static (link, corr, _) => link.Write(corr, static (output, crc, in c) => Frames.Correlated(output, crc, FrameType.Flush, c)));
        }
    }

    ValueTask IRouterCluster.SubscribedAsync(Subscription subscription)
    {
        if (IsOwn(subscription.Session))
        {
            return default;
        }

        var key = (subscription.Sender, subscription.Event);
        lock (_state)
        {
            if (!_counted.TryAdd(subscription, key))
            {
                return default;
            }

            if (_interest.TryGetValue(key, out var known))
            {
                known.Count++;
                return known.Announced is { IsCompleted: false } pending ? new ValueTask(pending) : default;
            }

            var interest = new LocalInterest(++_nextInterestId, key.Sender, key.Event);
            _interest[key] = interest;
            var announced = Announce(interest, static (link, corr, i) => link.Write((corr, i), static (output, crc, in a) =>
                Frames.Listen(output, false, a.corr, a.i.Id, a.i.Sender, a.i.Pattern, null, false)));
            interest.Announced = announced.IsCompleted ? null : announced.AsTask();
            return announced;
        }
    }

    void IRouterCluster.Unsubscribed(Subscription subscription)
    {
        if (!_counted.TryRemove(subscription, out var key))
        {
            return;
        }

        lock (_state)
        {
            if (_interest.TryGetValue(key, out var known) && --known.Count == 0)
            {
                _interest.Remove(key);
                foreach (var link in Links)
                {
                    link.Write(known.Id, static (output, crc, in id) => Frames.Unlisten(output, false, 0, id));
                }
            }
        }
    }

    /// <summary>A value this node hands to the others: its own senders' (a mirror's came from its node, which sends it).</summary>
    private bool IsOwnRetained(in BusMessage message) => message.Sender != Broker.SystemSender && !IsMirror(message.Sender);

    void IRouterCluster.Retained(in BusMessage message)
    {
        if (!IsOwnRetained(message))
        {
            return;
        }

        foreach (var link in Links)
        {
            link.Write(message, static (output, crc, in m) => NodeFrames.WriteMessage(output, NodeFrames.Retain, m));
        }
    }

    /// <summary>Writes this node's whole state to <paramref name="link"/> (under the state lock).</summary>
    private void WriteState(NodeLink link, bool reply)
    {
        lock (_state)
        {
            link.Write(reply, static (output, crc, in r) => NodeFrames.WriteStateBegin(output, r));
            foreach (var sender in _claimed.Values)
            {
                link.Write(sender, static (output, crc, in s) => WriteSender(output, 0, s));
            }

            foreach (var interest in _interest.Values)
            {
                link.Write(interest, static (output, crc, in i) => Frames.Listen(output, false, 0, i.Id, i.Sender, i.Pattern, null, false));
            }

            WriteGatherState(link);

            link.Write(0, static (output, crc, in _) => NodeFrames.WriteStateEnd(output));
        }
    }

    /// <summary>Writes one announcement to every link (under the state lock) and waits until each has confirmed it (OK
    /// with its correlation), left, or <see cref="ClusterOptions.AnnounceTimeout"/> passed.</summary>
    private ValueTask Announce<T>(T item, Action<NodeLink, uint, T> write)
    {
        var links = Links;
        if (links.Length == 0)
        {
            return default;
        }

        var correlation = ++_nextCorrelation == 0 ? ++_nextCorrelation : _nextCorrelation;
        var announcement = _connected ? new Announcement(links) : null;
        if (announcement is not null)
        {
            _announcements[correlation] = announcement;
        }

        foreach (var link in links)
        {
            write(link, announcement is null ? 0 : correlation, item);
        }

        return announcement is null ? default : new ValueTask(WaitAsync(correlation, announcement));
    }

    private async Task WaitAsync(uint correlation, Announcement announcement)
    {
        await announcement.Done.Task.WaitAsync(Options.AnnounceTimeout, Time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _announcements.TryRemove(correlation, out _);
    }

    /// <summary>OK from <paramref name="link"/> for an announcement.</summary>
    private void OnConfirmed(NodeLink link, uint correlation)
    {
        if (_announcements.TryGetValue(correlation, out var announcement))
        {
            announcement.Confirm(link);
        }
    }

    private void ForgetAnnouncementsTo(NodeLink link)
    {
        foreach (var announcement in _announcements.Values)
        {
            announcement.Confirm(link);
        }
    }

    /// <summary>One (sender, pattern) this node's subscriptions hold, announced to the others under <see cref="Id"/>.</summary>
    private sealed class LocalInterest(uint id, string? sender, string? pattern)
    {
        public uint Id { get; } = id;

        public string? Sender { get; } = sender;

        public string? Pattern { get; } = pattern;

        public int Count { get; set; } = 1;

        public Task? Announced { get; set; }
    }

    /// <summary>An announcement waiting for the links it was written to.</summary>
    private sealed class Announcement(NodeLink[] links)
    {
        private readonly HashSet<NodeLink> _waiting = [.. links];

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Confirm(NodeLink link)
        {
            lock (_waiting)
            {
                if (_waiting.Remove(link) && _waiting.Count == 0)
                {
                    Done.TrySetResult();
                }
            }
        }
    }
}
