using Microsoft.Extensions.Logging;
using Switchboard.Redis;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Cluster;

/// <summary>
/// A real redis-server and broker nodes joined through it, each a Kestrel broker on its own free port with a
/// <see cref="ClusterNode"/>; clients connect to a chosen node. Disposing stops everything and fails the test if a
/// broker or node logged an error it did not expect.
/// </summary>
internal sealed class ClusterFixture : IAsyncDisposable
{
    private readonly List<Member> _members = [];
    private readonly List<BusClient> _clients = [];

    private ClusterFixture(RedisServer redis, string name)
    {
        Redis = redis;
        Name = name;
    }

    public RedisServer Redis { get; }

    public string Name { get; }

    public IReadOnlyList<Member> Members => _members;

    /// <summary>Fast enough for tests, slow enough that a loaded 2-core machine never misses a lease by accident.</summary>
    public static ClusterOptions TestOptions(string redis, string name) => new()
    {
        Redis = redis,
        Name = name,
        HeartbeatInterval = TimeSpan.FromMilliseconds(300),
        LeasePeriod = TimeSpan.FromMilliseconds(1500),
        AnnounceTimeout = TimeSpan.FromSeconds(5),
    };

    public static async Task<ClusterFixture> StartAsync(int nodes)
    {
        var fixture = new ClusterFixture(await RedisServer.StartAsync(), "t" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            for (var i = 0; i < nodes; i++)
            {
                await fixture.AddNodeAsync();
            }

            await fixture.WaitJoinedAsync();
            return fixture;
        }
        catch
        {
            await fixture.DisposeAsync(); // no redis-server or broker outlives a fixture that failed to start
            throw;
        }
    }

    public ClusterNode Node(int index) => _members[index].Node;

    public async Task<Member> AddNodeAsync(Func<ClusterOptions, ClusterOptions>? tune = null, bool http = false)
    {
        var log = new RecordingLoggerProvider();
        ClusterNode? node = null;
        var options = (tune ?? (o => o))(TestOptions(Redis.Address, Name) with { NodeId = $"n{_members.Count}" });
        var brokerOptions = new BrokerOptions { Port = 0, HttpPort = http ? 0 : null };
        var host = await BrokerHost.StartAsync(brokerOptions, logging => logging.AddProvider(log), async broker => node = await ClusterNode.StartAsync(broker, options));
        var member = new Member(host, node!, log);
        _members.Add(member);
        return member;
    }

    /// <summary>Waits until every live node knows every other.</summary>
    public Task WaitJoinedAsync() =>
        Wait.UntilAsync(() => _members.Where(m => !m.Dead).All(m => m.Node.Nodes.Count == _members.Count(o => !o.Dead) - 1), "every node knows the others");

    public async Task<BusClient> ConnectAsync(int node, string name)
    {
        var client = await BusClient.ConnectAsync(_members[node].Host.TcpAddress!, Fixtures.FastReconnect(name), TestContext.Current.CancellationToken);
        _clients.Add(client);
        return client;
    }

    /// <summary>Ends a node as if its process died: no goodbye, its lease left to expire, its broker's sockets cut.</summary>
    public async Task KillNodeAsync(int index)
    {
        var member = _members[index];
        member.Dead = true;
        await member.Node.KillAsync();
        await member.Host.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }

        foreach (var member in _members.Where(m => !m.Dead))
        {
            await member.Host.DisposeAsync();
            await member.Node.DisposeAsync();
        }

        await Redis.DisposeAsync();
        var errors = _members.SelectMany(m => m.Log.Errors).Where(e => !e.Contains("Redis is unreachable", StringComparison.Ordinal) && !e.Contains("delivers nothing", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 0, "A node logged errors: " + string.Join(Environment.NewLine, errors));
    }

    /// <summary>One broker node of the fixture.</summary>
    internal sealed record Member(BrokerHost Host, ClusterNode Node, RecordingLoggerProvider Log)
    {
        public bool Dead { get; set; }
    }
}
