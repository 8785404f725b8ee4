using System.Globalization;

namespace Switchboard.LoadTest;

/// <summary>
/// The idle-connection part of the memory report (issue 16 item 1): per broker, a batch of idle connections opened,
/// all closed, then a second batch opened; the RSS cost per connection of each batch. A second batch costing more
/// than the first means closed connections left memory behind that new ones do not reuse.
/// </summary>
internal static class MemoryReport
{
    /// <summary>Measures each target (which must have a PID) and returns the markdown table rows' text.</summary>
    public static string Measure(IReadOnlyList<BrokerTarget> targets, int connections, TimeSpan settle, TextWriter progress)
    {
        var rows = new System.Text.StringBuilder();
        rows.AppendLine(CultureInfo.InvariantCulture, $"| broker | RSS before | after batch 1 ({connections:N0} open) | after closing batch 1 | after batch 2 ({connections:N0} open) | batch 1 B/conn | batch 2 B/conn | batch 2 ≤ batch 1 |");
        rows.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var target in targets)
        {
            var pid = target.Pid ?? throw new ArgumentException("memory needs each broker as PORT:PID.");
            progress.WriteLine($"memory: {target.Kind}, batch 1 of {connections} idle connections");
            var before = Rss(pid);
            var first = OpenBatch(target, connections, "mem1");
            Thread.Sleep(settle);
            var afterFirst = Rss(pid);
            first.Dispose();
            Thread.Sleep(settle); // the broker notices the closes
            var afterClose = Rss(pid);
            progress.WriteLine($"memory: {target.Kind}, batch 2 of {connections} idle connections");
            using (var second = OpenBatch(target, connections, "mem2"))
            {
                Thread.Sleep(settle);
                var afterSecond = Rss(pid);
                var cost1 = (double)(afterFirst - before) / connections;
                var cost2 = (double)(afterSecond - afterClose) / connections;
                rows.AppendLine(CultureInfo.InvariantCulture,
                    $"| {(target.Kind == BrokerKind.Nats ? "nats-server" : "Switchboard")} | {Mib(before)} | {Mib(afterFirst)} | {Mib(afterClose)} | {Mib(afterSecond)} | {cost1:N0} | {cost2:N0} | {(cost2 <= cost1 ? "yes" : "no")} |");
            }

            Thread.Sleep(settle);
        }

        return rows.ToString();
    }

    private static ConnectionSet OpenBatch(BrokerTarget target, int count, string tag)
    {
        var set = new ConnectionSet(target);
        set.DrainIdleConnections();
        try
        {
            for (var i = 0; i < count; i++)
            {
                set.Open($"{tag}-{i}").KeepAlive = true;
            }
        }
        catch
        {
            set.Dispose();
            throw;
        }

        return set;
    }

    private static long Rss(int pid) => ProcessStats.ResidentBytes(pid) ?? throw new InvalidOperationException($"cannot read the RSS of PID {pid}.");

    private static string Mib(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("N1", CultureInfo.InvariantCulture) + " MiB";
}
