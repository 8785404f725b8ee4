using System.Globalization;

namespace Switchboard.ClusterBench;

/// <summary>Where the nodes are and how long each measurement runs (from the command line).</summary>
internal sealed record BenchOptions(string NodeA, string NodeB, string Redis, TimeSpan Duration, int Requests, int? KillPid, string? KillAddress)
{
    /// <summary>Parses <c>--a sb://.. --b sb://.. --redis HOST:PORT [--seconds N] [--requests N] [--kill-pid PID --kill-address sb://..]</c>.</summary>
    public static BenchOptions Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
                throw new ArgumentException($"unexpected argument '{args[i]}'");
            values[args[i][2..]] = args[i + 1];
        }
        string Need(string name) => values.TryGetValue(name, out var v) ? v : throw new ArgumentException($"--{name} is required");
        int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        int? pid = values.ContainsKey("kill-pid") ? Int("kill-pid", 0) : null;
        return new BenchOptions(Need("a"), Need("b"), Need("redis"), TimeSpan.FromSeconds(Int("seconds", 3)), Int("requests", 5000),
            pid, values.GetValueOrDefault("kill-address"));
    }
}
