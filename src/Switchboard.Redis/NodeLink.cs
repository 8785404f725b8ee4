using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using StackExchange.Redis;
using Switchboard.Routing;
using Switchboard.Wire;

namespace Switchboard.Redis;

/// <summary>
/// This node's view of one other node (a member of the cluster): the outbox of frames bound for it (one bounded
/// <see cref="FrameWriter"/>, drained by one loop into Redis PUBLISHes of up to <see cref="ClusterOptions.MaxBatchBytes"/>),
/// the mirrors of its senders (router senders owned by this link's session), and its interest (the (sender, pattern)
/// keys its subscriptions hold), which decides whether a local message goes to it at all.
/// </summary>
internal sealed class NodeLink
{
    private readonly ClusterNode _node;
    private readonly RedisChannel _inbox;
    private readonly ArrayBufferWriter<byte> _payload = new();
    private readonly ConcurrentDictionary<uint, (string? Sender, string? Pattern, InterestKey Key)> _interestById = new();
    private HashSet<string>? _staleMirrors;
    private HashSet<uint>? _staleInterest;
    private HashSet<string>? _staleProducers;
    private ulong _sequenceOut;

    public NodeLink(ClusterNode node, string member, RouterSession session)
    {
        _node = node;
        Member = member;
        Session = session;
        _inbox = node.InboxOf(member);
        Writer = new FrameWriter(node.Options.MaxPendingBytes);
        MirrorsByChars = Mirrors.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The other node's member name (its id and incarnation).</summary>
    public string Member { get; }

    /// <summary>Owns this node's mirrors of the other node's senders.</summary>
    public RouterSession Session { get; }

    /// <summary>Frames bound for the other node, in order.</summary>
    public FrameWriter Writer { get; }

    /// <summary>Mirrors of the other node's senders, with their last wills (mirrors are registered without one: the
    /// owner node raises the will of a sender whose connection died; this node raises it only when the node died).</summary>
    public ConcurrentDictionary<string, Mirror> Mirrors { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, Mirror>.AlternateLookup<ReadOnlySpan<char>> MirrorsByChars { get; }

    /// <summary>Mirrors of the other node's producers, by name.</summary>
    public ConcurrentDictionary<string, ProducerRegistration> Producers { get; } = new(StringComparer.Ordinal);

    /// <summary>The topics the other node has gather result listeners for.</summary>
    public ConcurrentDictionary<string, byte> ResultTopics { get; } = new(StringComparer.Ordinal);

    /// <summary>The other node's interest: a message goes to it only when this index matches it.</summary>
    public RoutingIndex<InterestKey> Interest { get; } = new();

    /// <summary>The next batch sequence expected from the other node (0 before its first).</summary>
    public ulong SequenceIn { get; set; }

    /// <summary>Requests this node asked of the other node's senders, by id.</summary>
    public ConcurrentDictionary<uint, PendingRequest> Asked { get; } = new();

    /// <summary>Requests the other node asked of this node's senders, by its id, until answered or cancelled.</summary>
    public ConcurrentDictionary<uint, CancellationTokenSource> Serving { get; } = new();

    public Task Loop { get; private set; } = Task.CompletedTask;

    public void Start() => Loop = RunAsync();

    /// <summary>True when the other node listens to something <paramref name="message"/> matches.</summary>
    public bool Wants(in BusMessage message) => Interest.Count > 0 && Interest.Lookup(message.Sender, message.Event).Length > 0;

    /// <summary>Queues an event for the other node; past the pending bound it is dropped and counted as lost.</summary>
    public void WriteEvent(in BusMessage message)
    {
        var outcome = Writer.WriteBounded(message, static (output, crc, in m) => Frames.Event(output, crc, 0, m.Sender, m.Event, m.Headers, m.Data), countAsMessage: true);
        if (outcome == WriteOutcome.Full)
        {
            _node.Counters.AddLost(1);
        }
    }

    /// <summary>Queues a control frame (never dropped for the bound: announcements, requests and answers).</summary>
    public bool Write<TState>(in TState state, FrameWriter.Encoder<TState> encode) => Writer.Write(Lane.Data, state, encode) == WriteOutcome.Written;

    public void AddInterest(uint id, string? sender, string? pattern)
    {
        _staleInterest?.Remove(id);
        if (_interestById.TryGetValue(id, out var known) && known.Sender == sender && known.Pattern == pattern)
        {
            return;
        }

        RemoveInterest(id);
        var key = new InterestKey(id);
        _interestById[id] = (sender, pattern, key);
        Interest.Add(sender, pattern, key);
    }

    public void RemoveInterest(uint id)
    {
        if (_interestById.TryRemove(id, out var known))
        {
            Interest.Remove(known.Sender, known.Pattern, known.Key);
        }
    }

    /// <summary>A full state begins: what it does not name again is removed at <see cref="EndState"/>.</summary>
    public void BeginState()
    {
        _staleMirrors = [.. Mirrors.Keys];
        _staleInterest = [.. _interestById.Keys];
        _staleProducers = [.. Producers.Keys];
        ResultTopics.Clear(); // named again in the state
    }

    public void Confirm(string mirror) => _staleMirrors?.Remove(mirror);

    public void ConfirmProducer(string producer) => _staleProducers?.Remove(producer);

    /// <summary>The producers the ended state did not name (taken once, at <see cref="EndState"/>'s call).</summary>
    public IReadOnlyCollection<string> TakeStaleProducers()
    {
        var stale = (IReadOnlyCollection<string>?)_staleProducers ?? [];
        _staleProducers = null;
        return stale;
    }

    /// <summary>The state ended: returns the mirrors it did not name (interest it did not name is removed here).</summary>
    public IReadOnlyCollection<string> EndState()
    {
        foreach (var id in _staleInterest ?? [])
        {
            RemoveInterest(id);
        }

        var stale = (IReadOnlyCollection<string>?)_staleMirrors ?? [];
        _staleMirrors = null;
        _staleInterest = null;
        return stale;
    }

    /// <summary>Drains the outbox into Redis: each take is cut at frame boundaries into publishes of at most
    /// <see cref="ClusterOptions.MaxBatchBytes"/>, each led by a BATCH frame with the next sequence number.</summary>
    private async Task RunAsync()
    {
        var delay = _node.Options.MaxBatchDelay;
        try
        {
            while (true)
            {
                var batch = await Writer.TakeAsync(CancellationToken.None);
                if (batch.IsEmpty)
                {
                    return;
                }

                var start = 0;
                while (start < batch.Length)
                {
                    var (length, events) = Cut(batch.Span[start..], _node.Options.MaxBatchBytes);
                    await PublishAsync(batch.Slice(start, length), events);
                    start += length;
                }

                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, _node.Time); // let the next messages gather (at most this long)
                }
            }
        }
        catch (Exception ex)
        {
            _node.Log.LinkFailed(ex, Member);
        }
    }

    /// <summary>How many whole frames from the front fit in <paramref name="limit"/> bytes (at least one), and how many of them are events.</summary>
    private static (int Length, int Events) Cut(ReadOnlySpan<byte> frames, int limit)
    {
        int length = 0, events = 0;
        while (length + 5 <= frames.Length)
        {
            var size = 4 + BinaryPrimitives.ReadInt32LittleEndian(frames[length..]);
            if (length > 0 && length + size > limit)
            {
                break;
            }

            if ((FrameType)frames[length + 4] == FrameType.Event)
            {
                events++;
            }

            length += size;
        }

        return (length, events);
    }

    private async Task PublishAsync(ReadOnlyMemory<byte> frames, int events)
    {
        var sequence = ++_sequenceOut;
        if (!_node.IsConnected)
        {
            _node.Counters.AddLost(events); // the receiver sees the gap and asks for this node's state again
            return;
        }

        _payload.ResetWrittenCount();
        NodeFrames.WriteBatch(_payload, _node.Member, sequence);
        _payload.Write(frames.Span);
        try
        {
            var receivers = await _node.Database.PublishAsync(_inbox, _payload.WrittenMemory);
            _node.Counters.AddPublished(events, receivers == 0);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            _node.Counters.AddLost(events);
            _node.OnRedisFailure(ex);
        }
    }
}

/// <summary>One entry of a remote node's interest (identity only: the index needs a reference to add and remove).</summary>
internal sealed record InterestKey(uint Id);

/// <summary>A mirror of a remote sender, with the last will the owner node announced.</summary>
internal sealed record Mirror(SenderRegistration Registration, string? WillEvent, Payload WillData);

/// <summary>A request asked of a remote sender, waiting for its REPLY.</summary>
internal sealed record PendingRequest(TaskCompletionSource<Payload> Answer, string Sender, string Request);
