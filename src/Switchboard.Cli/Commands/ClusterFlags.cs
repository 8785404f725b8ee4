using System.CommandLine;
using Switchboard.Redis;

namespace Switchboard.Cli.Commands;

/// <summary>
/// <c>serve</c>'s cluster flags: <c>--cluster redis://HOST:PORT</c> joins the broker to a cluster over Redis
/// (docs/cluster.md), with the cluster's name, this node's id, and the heartbeat and lease of
/// <see cref="ClusterOptions"/>. Each value is checked as the options check it, so a bad one is a usage error naming the flag.
/// </summary>
public sealed class ClusterFlags
{
    private static readonly ClusterOptions Defaults = new();

    private readonly Option<string?> _cluster = new("--cluster")
    {
        Description = "Join a cluster of brokers through Redis: redis://[user:password@]HOST:PORT (rediss:// for TLS; several HOST:PORT separated by commas for a Redis Cluster). Off by default.",
        HelpName = "URL",
    };

    private readonly Option<string> _name = new("--cluster-name")
    {
        Description = "The cluster's name: brokers with the same Redis and name form one bus (default switchboard).",
        HelpName = "NAME",
        DefaultValueFactory = _ => Defaults.Name,
    };

    private readonly Option<string?> _nodeId = new("--node-id")
    {
        Description = "This node's id in logs and in the cluster (default: random).",
        HelpName = "ID",
    };

    private readonly Option<int> _heartbeat = ServeTuning.Number("--cluster-heartbeat-ms", "MS", (int)Defaults.HeartbeatInterval.TotalMilliseconds, 50, 600_000,
        "How often the node renews its lease in Redis and looks at the others'");

    private readonly Option<int> _lease = ServeTuning.Number("--cluster-lease-ms", "MS", (int)Defaults.LeasePeriod.TotalMilliseconds, 100, 3_600_000,
        "How long a node's lease lasts without renewal: that long after a node dies, the others disconnect its senders (reason node_lost) and free their names");

    /// <summary>The flags, ready to add.</summary>
    public static ClusterFlags Create() => new();

    /// <summary>Adds the flags and their checks to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        _cluster.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string?>();
            try
            {
                _ = value is null ? null : ClusterOptions.FromUrl(value);
            }
            catch (SwitchboardException ex)
            {
                result.AddError("--cluster: " + ex.Message);
            }
        });
        foreach (var option in new Option[] { _cluster, _name, _nodeId, _heartbeat, _lease })
        {
            command.Options.Add(option);
        }

        command.Validators.Add(result =>
        {
            if (result.GetValue(_cluster) is null)
            {
                return;
            }

            try
            {
                Build(result.GetValue(_cluster)!, Value(result, _name)!, Value(result, _nodeId), Value(result, _heartbeat), Value(result, _lease)).Validate();
            }
            catch (SwitchboardException ex)
            {
                result.AddError(ex.Message.Replace("ClusterOptions.Name", "--cluster-name", StringComparison.Ordinal)
                    .Replace("ClusterOptions.NodeId", "--node-id", StringComparison.Ordinal)
                    .Replace("ClusterOptions.LeasePeriod", "--cluster-lease-ms", StringComparison.Ordinal)
                    .Replace("ClusterOptions.HeartbeatInterval", "--cluster-heartbeat-ms", StringComparison.Ordinal)
                    .Replace("HeartbeatInterval", "--cluster-heartbeat-ms", StringComparison.Ordinal));
            }
        });
    }

    /// <summary>An option's value in a command validator: the default when it was not given (the command's result holds
    /// only what was typed).</summary>
    private static T Value<T>(System.CommandLine.Parsing.CommandResult command, Option<T> option) =>
        command.GetResult(option) is { } given ? given.GetValueOrDefault<T>() : option.DefaultValueFactory is { } make ? make(null!) : default!;

    /// <summary>The cluster's options, or null when <c>--cluster</c> was not given.</summary>
    public ClusterOptions? Read(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.GetValue(_cluster) is { } url
            ? Build(url, result.GetValue(_name)!, result.GetValue(_nodeId), result.GetValue(_heartbeat), result.GetValue(_lease))
            : null;
    }

    private static ClusterOptions Build(string url, string name, string? nodeId, int heartbeatMs, int leaseMs) => new()
    {
        Redis = ClusterOptions.FromUrl(url),
        Name = name,
        NodeId = nodeId ?? new ClusterOptions().NodeId, // a random one per node
        HeartbeatInterval = TimeSpan.FromMilliseconds(heartbeatMs),
        LeasePeriod = TimeSpan.FromMilliseconds(leaseMs),
    };
}
