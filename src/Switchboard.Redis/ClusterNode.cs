using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Switchboard.Routing;
using Switchboard.Server;

namespace Switchboard.Redis;

/// <summary>
/// One broker's membership of a cluster of brokers over Redis (docs/cluster.md). It plugs into the broker's router as
/// its <see cref="IRouterCluster"/>: local senders' names are claimed in Redis on this node's lease and announced to
/// every other node, which registers a mirror of each (so presence, <c>GetSendersAsync</c> and requests see it);
/// local subscriptions are announced as interest; one delivery target on the router sends each local message that
/// another node's interest matches into that node's outbox, batched into Redis PUBLISHes. Split by concern:
/// this file holds joining, the heartbeat and node death; <c>ClusterNode.Seam.cs</c> what the router tells it;
/// <c>ClusterNode.Inbound.cs</c> what other nodes send; <c>ClusterNode.Requests.cs</c> requests across nodes.
/// </summary>
public sealed partial class ClusterNode : IAsyncDisposable
{
    /// <summary>The meter the node's counters are published on.</summary>
    public const string MeterName = "Switchboard.Cluster";

    private readonly Broker _broker;
    private readonly ConcurrentDictionary<string, NodeLink> _links = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly string _keyPrefix;
    private readonly RedisChannel _control;
    private readonly RedisKey _lease;
    private readonly RedisKey _nodes;
    private ConnectionMultiplexer? _redis;
    private RouterSession? _own;
    private NodeLink[] _linkArray = [];
    private Task _heartbeat = Task.CompletedTask;
    private Task _inboxLoop = Task.CompletedTask;
    private Task _controlLoop = Task.CompletedTask;
    private ChannelMessageQueue? _inboxQueue;
    private ChannelMessageQueue? _controlQueue;
    private volatile bool _connected;
    private volatile bool _rejoinNeeded;
    private long _graceUntil;
    private int _disposed;

    private ClusterNode(Broker broker, ClusterOptions options)
    {
        _broker = broker;
        Options = options;
        Member = $"{options.NodeId}~{Guid.NewGuid().ToString("N")[..8]}";
        Log = broker.Options.Bus.LoggerFactory.CreateLogger("Switchboard.Cluster");
        _keyPrefix = "{" + options.Name + "}:";
        _control = RedisChannel.Literal(_keyPrefix + "ctl");
        _lease = LeaseKey(Member);
        _nodes = _keyPrefix + "nodes";
    }

    /// <summary>The settings.</summary>
    public ClusterOptions Options { get; }

    /// <summary>This node's member name in the cluster: its <see cref="ClusterOptions.NodeId"/> and a random incarnation.</summary>
    public string Member { get; }

    /// <summary>What this node counted.</summary>
    public ClusterCounters Counters { get; } = new();

    /// <summary>True while this node is connected to Redis (it serves its local clients either way).</summary>
    public bool IsConnected => _connected;

    /// <summary>The other nodes this node knows of now.</summary>
    public IReadOnlyCollection<string> Nodes => [.. _links.Keys];

    internal ILogger Log { get; }

    internal TimeProvider Time => _broker.Options.Bus.TimeProvider;

    internal IDatabase Database => _redis!.GetDatabase();

    private Router Router => _broker.Router;

    internal NodeLink[] Links => Volatile.Read(ref _linkArray);

    /// <summary>
    /// Joins <paramref name="broker"/> (started, with no client yet: call it from <c>BrokerHost.StartAsync</c>'s
    /// <c>beforeListening</c>) to the cluster: connects to Redis, takes this node's lease, subscribes to its inbox and
    /// tells the other nodes. Throws <see cref="SwitchboardException"/> (<c>connect_failed</c>) when Redis cannot be reached.
    /// </summary>
    public static async Task<ClusterNode> StartAsync(Broker broker, ClusterOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(broker);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var node = new ClusterNode(broker, options);
        try
        {
            await node.JoinAsync(cancellationToken);
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }

        return node;
    }

    private async Task JoinAsync(CancellationToken cancellationToken)
    {
        var config = ConfigurationOptions.Parse(Options.Redis);
        config.AbortOnConnectFail = true;
        config.BacklogPolicy = BacklogPolicy.FailFast; // a command while Redis is away fails at once: counted, never queued
        config.ClientName = "switchboard-" + Member;
        config.ConnectRetry = 2;
        try
        {
            _redis = await ConnectionMultiplexer.ConnectAsync(config).WaitAsync(cancellationToken);
        }
        catch (RedisConnectionException ex)
        {
            throw new SwitchboardException(ErrorCodes.ConnectFailed, $"The cluster cannot start: Redis at '{Options.Redis}' is unreachable ({ex.FailureType}). Start redis-server there, or fix --cluster.", ex);
        }

        config.AbortOnConnectFail = false;
        _redis.ConnectionFailed += (_, e) => OnConnectionFailed(e);
        _redis.ConnectionRestored += (_, e) => OnConnectionRestored(e);
        _connected = true;
        var subscriber = _redis.GetSubscriber();
        _inboxQueue = await WhileStartingAsync(() => subscriber.SubscribeAsync(InboxOf(Member)), cancellationToken);
        _controlQueue = await WhileStartingAsync(() => subscriber.SubscribeAsync(_control), cancellationToken);
        _inboxLoop = ReadInboxAsync(_inboxQueue);
        _controlLoop = ReadControlAsync(_controlQueue);
        _own = Router.OpenSession("cluster:" + Member);
        Router.ProducerNamePrefix = $"producer-{Member[(Member.IndexOf('~', StringComparison.Ordinal) + 1)..]}-"; // unnamed producers differ across nodes
        Router.Cluster = this;
        await Router.AddSubscriptionAsync(_own, new ClusterTarget(this), receiveRetained: false);
        await WhileStartingAsync(async () => { await RejoinAsync(); return true; }, cancellationToken);
        _broker.HealthProblem = HealthProblemNow;
        _broker.ExtraMetrics = WriteMetrics;
        _heartbeat = RunHeartbeatAsync();
        Log.Joined(Options.Name, Member, Options.Redis);
    }

    /// <summary>Runs a first command again while the multiplexer's connections are still coming up (the subscription
    /// connection can lag the interactive one on a loaded machine), for up to ten seconds.</summary>
    private async Task<T> WhileStartingAsync<T>(Func<Task<T>> command, CancellationToken cancellationToken)
    {
        var deadline = Time.GetTimestamp() + (10 * Time.TimestampFrequency);
        while (true)
        {
            try
            {
                return await command();
            }
            catch (RedisConnectionException) when (Time.GetTimestamp() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), Time, cancellationToken);
            }
        }
    }

    internal RedisChannel InboxOf(string member) => RedisChannel.Literal(_keyPrefix + "inbox:" + member);

    private RedisKey LeaseKey(string member) => _keyPrefix + "node:" + member;

    private RedisKey NameKey(string sender) => _keyPrefix + "name:" + sender;

    /// <summary>Takes the lease, claims every local name again, and asks every node for its state (at start, and
    /// after Redis lost this node's keys: a restart, or a lease that expired while the node was cut off).</summary>
    private async Task RejoinAsync()
    {
        var db = Database;
        await db.StringSetAsync(_lease, "1", expiry: Options.LeasePeriod);
        await db.SetAddAsync(_nodes, Member);
        await ReclaimNamesAsync();
        Volatile.Write(ref _graceUntil, Time.GetTimestamp() + (long)(Options.LeasePeriod.TotalSeconds * Time.TimestampFrequency));
        await db.PublishAsync(_control, Hello(NodeFrames.HelloResync));
        foreach (var link in Links)
        {
            WriteState(link, reply: true);
        }

        await DiscoverAsync(db); // link to every live node now: the first senders and listeners are announced to them
    }

    private RedisValue Hello(uint flags)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(64);
        Wire.Frames.Hello(buffer, false, Wire.Protocol.Version, Member, null, flags, (uint)Options.HeartbeatInterval.TotalMilliseconds);
        return buffer.WrittenMemory;
    }

    /// <summary>Every quarter heartbeat: looks at the other nodes' leases; every heartbeat: renews its own, and finds
    /// nodes it has not heard of (their HELLO was missed).</summary>
    private async Task RunHeartbeatAsync()
    {
        using var timer = new PeriodicTimer(Options.HeartbeatInterval / 4, Time);
        var tick = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                try
                {
                    await BeatAsync(tick++ % 4 == 0);
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    Log.HeartbeatFailed(ex.Message.ReplaceLineEndings(" "));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task BeatAsync(bool renew)
    {
        if (!_connected)
        {
            return;
        }

        var db = Database;
        if (_rejoinNeeded || (renew && !await db.StringSetAsync(_lease, "1", expiry: Options.LeasePeriod, when: When.Exists)))
        {
            _rejoinNeeded = false;
            Log.RedisBack();
            await RejoinAsync();
            return;
        }

        await CheckLeasesAsync(db);
        if (renew)
        {
            await DiscoverAsync(db);
            await ProbeAsync(db);
        }
    }

    /// <summary>Finds the known nodes whose lease is gone: each is lost, once, here (every node decides for itself).</summary>
    private async Task CheckLeasesAsync(IDatabase db)
    {
        var links = Links;
        if (links.Length == 0 || Time.GetTimestamp() < Volatile.Read(ref _graceUntil))
        {
            return; // just (re)joined: the others may not have renewed into a restarted Redis yet
        }

        var alive = (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.Exist, [.. links.Select(l => LeaseKey(l.Member))]))!;
        for (var i = 0; i < links.Length; i++)
        {
            if ((long)alive[i] == 0)
            {
                await db.SetRemoveAsync(_nodes, links[i].Member);
                await DropLinkAsync(links[i], DisconnectReason.NodeLost);
            }
        }
    }

    /// <summary>Nodes in the cluster's list that this node has no link to (it missed their HELLO) get this node's state.</summary>
    private async Task DiscoverAsync(IDatabase db)
    {
        foreach (var value in await db.SetMembersAsync(_nodes))
        {
            var member = value.ToString();
            if (member != Member && !_links.ContainsKey(member) && await db.KeyExistsAsync(LeaseKey(member)))
            {
                LinkTo(member);
            }
        }
    }

    /// <summary>The link to <paramref name="member"/>, made (and sent this node's state, asking for its own) the first time.</summary>
    internal NodeLink LinkTo(string member)
    {
        if (_links.TryGetValue(member, out var link))
        {
            return link;
        }

        lock (_links)
        {
            if (_links.TryGetValue(member, out link))
            {
                return link;
            }

            link = new NodeLink(this, member, Router.OpenSession("node:" + member));
            _linkSessions[link.Session] = link;
            link.Start();
            lock (_state)
            {
                // Under the state lock: the snapshot and the link's place among the announced-to are one step, so
                // no announcement falls between them.
                WriteState(link, reply: true);
                _links[member] = link;
                Volatile.Write(ref _linkArray, [.. _links.Values]);
            }
        }

        Log.NodeFound(member);
        return link;
    }

    /// <summary>Forgets a node: its mirrors leave (with their wills first when the node was lost), requests to it fail.</summary>
    internal async Task DropLinkAsync(NodeLink link, DisconnectReason reason)
    {
        lock (_links)
        {
            if (!_links.TryRemove(new KeyValuePair<string, NodeLink>(link.Member, link)))
            {
                return; // exactly once: whoever removed it does the rest
            }

            Volatile.Write(ref _linkArray, [.. _links.Values]);
        }

        link.Writer.Complete();
        ForgetAnnouncementsTo(link);
        var mirrors = link.Mirrors.Values.ToList();
        if (reason == DisconnectReason.NodeLost)
        {
            Counters.AddNodeLost();
            Log.NodeLost(link.Member, mirrors.Count);
        }
        else
        {
            Log.NodeLeft(link.Member);
        }

        foreach (var mirror in mirrors)
        {
            await RemoveMirrorAsync(link, mirror.Registration.Name, reason);
        }

        FailRequests(link, reason == DisconnectReason.NodeLost ? "its node was lost" : "its node left");
        await Router.CloseSessionAsync(link.Session, clean: true);
        _linkSessions.TryRemove(link.Session, out _);
    }

    private void OnConnectionFailed(ConnectionFailedEventArgs e)
    {
        if (_connected && e.ConnectionType == ConnectionType.Interactive)
        {
            _connected = false;
            Counters.AddOutage();
            Log.RedisLost(e.FailureType + ": " + e.Exception?.Message);
        }
    }

    private void OnConnectionRestored(ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive || e.ConnectionType == ConnectionType.Subscription)
        {
            _rejoinNeeded = true; // the heartbeat does it: Redis may have lost every key (a restart without persistence)
            _connected = _redis?.IsConnected ?? false;
        }
    }

    /// <summary>A command failed: the multiplexer's events say when it is back.</summary>
    internal void OnRedisFailure(Exception ex)
    {
        if (_redis is { IsConnected: false } && _connected)
        {
            _connected = false;
            Counters.AddOutage();
            Log.RedisLost(ex.Message.ReplaceLineEndings(" "));
        }
    }

    /// <summary>The node's families in <c>GET /metrics</c>.</summary>
    private void WriteMetrics(Server.Http.PrometheusText text)
    {
        text.Gauge("switchboard_cluster_redis_up", "1 while this node is connected to Redis, 0 while it serves only its local clients.", _connected ? 1 : 0);
        text.Gauge("switchboard_cluster_nodes", "Other nodes this node knows of now.", _links.Count);
        text.Counter("switchboard_cluster_lost_messages_total", "Messages for other nodes that did not reach Redis (Redis unreachable, over MaxPendingBytes, or no subscriber).", Counters.LostMessages);
        text.Counter("switchboard_cluster_messages_out_total", "Messages published to other nodes.", Counters.MessagesOut);
        text.Counter("switchboard_cluster_batches_out_total", "Redis PUBLISHes to other nodes (many messages each under load).", Counters.BatchesOut);
        text.Counter("switchboard_cluster_messages_in_total", "Messages received from other nodes and delivered here.", Counters.MessagesIn);
        text.Counter("switchboard_cluster_sequence_gaps_total", "Gaps seen in other nodes' batch sequences (batches lost in Redis).", Counters.SequenceGaps);
        text.Counter("switchboard_cluster_nodes_lost_total", "Nodes found dead (lease expired).", Counters.NodesLost);
        text.Counter("switchboard_cluster_redis_outages_total", "Times the connection to Redis was lost.", Counters.RedisOutages);
        text.Counter("switchboard_cluster_name_clashes_total", "Local senders whose name another node claimed while Redis was away.", Counters.NameClashes);
    }

    /// <summary>Stops as if the process died (for tests of node death): no goodbye, no lease released, nothing more sent.</summary>
    internal async Task KillAsync()
    {
        Router.Cluster = null;
        _connected = false;
        await _stopping.CancelAsync();
        foreach (var link in Links)
        {
            link.Writer.Complete();
        }

        Interlocked.Exchange(ref _disposed, 1);
        if (_redis is { } redis)
        {
            await redis.CloseAsync(allowCommandsToComplete: false);
            await redis.DisposeAsync();
        }

        await Task.WhenAll(_inboxLoop, _controlLoop, _heartbeat).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>Leaves cleanly: tells the other nodes (they remove this node's mirrors at once, with reason closed),
    /// releases this node's names and lease, and stops. Dispose the broker first, so its clients' senders leave through
    /// the cluster in order.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (ReferenceEquals(Router.Cluster, this))
        {
            Router.Cluster = null;
            _broker.HealthProblem = null;
            _broker.ExtraMetrics = null;
        }

        await _stopping.CancelAsync();
        await _heartbeat;
        foreach (var link in Links)
        {
            link.Writer.Complete();
            await link.Loop.WaitAsync(TimeSpan.FromSeconds(2), Time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (_redis is { } redis)
        {
            if (_connected)
            {
                await LeaveAsync(redis.GetDatabase());
            }

            _inboxQueue?.Unsubscribe();
            _controlQueue?.Unsubscribe();
            await redis.CloseAsync();
            await redis.DisposeAsync();
        }

        await Task.WhenAll(_inboxLoop, _controlLoop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
    }

    private async Task LeaveAsync(IDatabase db)
    {
        try
        {
            var bye = new System.Buffers.ArrayBufferWriter<byte>(64);
            Wire.Frames.GoingAway(bye, false, Member);
            await db.PublishAsync(_control, bye.WrittenMemory);
            foreach (var name in _claimed.Keys)
            {
                await db.ScriptEvaluateAsync(RedisScripts.Release, [NameKey(name)], [Member]);
            }

            await db.KeyDeleteAsync(_lease);
            await db.SetRemoveAsync(_nodes, Member);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Log.HeartbeatFailed(ex.Message.ReplaceLineEndings(" ")); // the lease expires by itself
        }
    }
}
