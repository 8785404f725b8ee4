namespace Switchboard.Redis;

/// <summary>
/// How one broker joins a cluster of brokers over Redis (docs/cluster.md). Every node of one cluster uses the same
/// <see cref="Redis"/> and <see cref="Name"/>; each has its own <see cref="NodeId"/>.
/// </summary>
public sealed record ClusterOptions
{
    /// <summary>The most bytes one Redis PUBLISH may carry (Redis's own bound on a bulk string is 512 MiB; keep far below).</summary>
    public const int MaxBatchBytesLimit = 16 << 20;

    /// <summary>The StackExchange.Redis configuration string: <c>host:port[,host:port...][,password=...][,ssl=true]</c>.
    /// <see cref="FromUrl"/> makes one from <c>redis://</c> and <c>rediss://</c> addresses.</summary>
    public string Redis { get; init; } = "127.0.0.1:6379";

    /// <summary>The cluster's name: the prefix of every key and channel it uses (<c>{NAME}:...</c>, one hash tag, so all
    /// keys share one slot). Brokers with different names share a Redis without seeing each other.</summary>
    public string Name { get; init; } = "switchboard";

    /// <summary>This node's id in logs and in the nodes' list; a random one by default. A node restarted with the same id
    /// is still a new member (its incarnation differs), so nothing of its previous life comes back.</summary>
    public string NodeId { get; init; } = Guid.NewGuid().ToString("N")[..12];

    /// <summary>How often the node renews its lease and checks the others' (default 1 s).</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a lease lasts without renewal (default 3 s): a node that stops renewing is dead to the others
    /// that long after its last renewal (they look every quarter heartbeat), and its senders' names are free again.</summary>
    public TimeSpan LeasePeriod { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>The most bytes of bus messages one Redis PUBLISH carries to one node (default 256 KiB); a larger burst is
    /// split at message boundaries.</summary>
    public int MaxBatchBytes { get; init; } = 256 << 10;

    /// <summary>How long a message may wait for others to share its publish (default 0: none; messages routed in one
    /// read batch, or while the previous publish to that node is in flight, share one anyway).</summary>
    public TimeSpan MaxBatchDelay { get; init; } = TimeSpan.Zero;

    /// <summary>The bytes that may wait for Redis per destination node (default 8 MiB); past it messages to that node are
    /// dropped and counted in <see cref="ClusterCounters.LostMessages"/>, and local delivery goes on.</summary>
    public long MaxPendingBytes { get; init; } = 8L << 20;

    /// <summary>How long a new sender or listener waits for the other nodes to confirm they know of it (default 1 s);
    /// a node that does not answer in time learns of it anyway, later.</summary>
    public TimeSpan AnnounceTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Checks every value; throws <see cref="SwitchboardException"/> (<c>invalid_argument</c>) naming the setting.</summary>
    public void Validate()
    {
        Require(!string.IsNullOrWhiteSpace(Redis), "Redis", "is empty; give host:port (for example 127.0.0.1:6379)");
        Require(IsToken(Name), "Name", $"'{Name}' must be 1 to 64 letters, digits, '-', '_' or '.'");
        Require(IsToken(NodeId), "NodeId", $"'{NodeId}' must be 1 to 64 letters, digits, '-', '_' or '.'");
        Require(HeartbeatInterval >= TimeSpan.FromMilliseconds(50), "HeartbeatInterval", $"is {HeartbeatInterval.TotalMilliseconds} ms; give 50 ms or more");
        Require(LeasePeriod >= 2 * HeartbeatInterval, "LeasePeriod", $"is {LeasePeriod.TotalMilliseconds} ms; give at least twice HeartbeatInterval ({2 * HeartbeatInterval.TotalMilliseconds} ms), so one late renewal does not kill a node");
        Require(MaxBatchBytes is >= 1024 and <= MaxBatchBytesLimit, "MaxBatchBytes", $"is {MaxBatchBytes}; give 1024 to {MaxBatchBytesLimit}");
        Require(MaxBatchDelay >= TimeSpan.Zero && MaxBatchDelay <= TimeSpan.FromSeconds(1), "MaxBatchDelay", $"is {MaxBatchDelay.TotalMilliseconds} ms; give 0 to 1000 ms");
        Require(MaxPendingBytes >= MaxBatchBytes, "MaxPendingBytes", $"is {MaxPendingBytes}; give at least MaxBatchBytes ({MaxBatchBytes})");
        Require(AnnounceTimeout > TimeSpan.Zero, "AnnounceTimeout", "must be positive");
    }

    /// <summary>
    /// Reads <c>redis://[user:password@]host:port[,host:port...]</c> (<c>rediss://</c> for TLS) into <see cref="Redis"/>;
    /// several addresses name the nodes of a Redis Cluster or replicas. Throws <c>invalid_argument</c> for anything else.
    /// </summary>
    public static string FromUrl(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var tls = url.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase);
        if (!tls && !url.StartsWith("redis://", StringComparison.OrdinalIgnoreCase))
        {
            throw Invalid("the cluster address", $"'{url}' is not a redis:// or rediss:// address (for example redis://127.0.0.1:6379)");
        }

        var rest = url[(tls ? 9 : 8)..].TrimEnd('/');
        string? user = null, password = null;
        if (rest.LastIndexOf('@') is var at and >= 0)
        {
            var credentials = Uri.UnescapeDataString(rest[..at]);
            rest = rest[(at + 1)..];
            var colon = credentials.IndexOf(':', StringComparison.Ordinal);
            (user, password) = colon < 0 ? (null, credentials) : (credentials[..colon], credentials[(colon + 1)..]);
        }

        var hosts = rest.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (hosts.Length == 0 || Array.Exists(hosts, h => !IsHostPort(h)))
        {
            throw Invalid("the cluster address", $"'{url}' must name host:port after redis:// (several separated by commas)");
        }

        var parts = new List<string>(hosts);
        if (!string.IsNullOrEmpty(user))
        {
            parts.Add("user=" + user);
        }

        if (!string.IsNullOrEmpty(password))
        {
            parts.Add("password=" + password);
        }

        if (tls)
        {
            parts.Add("ssl=true");
        }

        return string.Join(',', parts);
    }

    private static bool IsHostPort(string value)
    {
        var colon = value.LastIndexOf(':');
        return colon > 0 && int.TryParse(value.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535;
    }

    private static bool IsToken(string? value) =>
        value is { Length: > 0 and <= 64 } && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static void Require(bool ok, string setting, string problem)
    {
        if (!ok)
        {
            throw Invalid("ClusterOptions." + setting, problem);
        }
    }

    private static SwitchboardException Invalid(string what, string problem) =>
        new(ErrorCodes.InvalidArgument, $"{what} {problem}.");
}
