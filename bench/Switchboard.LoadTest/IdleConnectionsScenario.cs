using System.Globalization;

namespace Switchboard.LoadTest;

/// <summary>
/// S5: each run opens N more connections that complete the handshake and then only exchange keep-alive pings; the
/// broker's VmRSS growth divided by N is its memory per idle connection. Connections stay open until the scenario
/// ends: a process rarely gives freed memory back to the kernel, so connections opened after others were closed would
/// reuse that memory and show (close to) nothing. The warm-up run's connections absorb one-time costs (pools, threads).
/// Needs the broker's PID (a separate process).
/// </summary>
internal sealed class IdleConnectionsScenario(string id, string title) : Scenario(id, title)
{
    private readonly Dictionary<string, List<ConnectionSet>> _open = [];

    public override RunMeasurement Run(BrokerTarget target, LoadOptions options, TimeSpan duration, bool warmup)
    {
        if (target.Pid is not { } pid)
        {
            throw new InvalidOperationException("S5 needs the broker's process id (PORT:PID) to read its RSS.");
        }

        var count = warmup ? Math.Min(200, options.IdleConnections) : options.IdleConnections;
        if (!_open.TryGetValue(target.Name, out var sets))
        {
            _open[target.Name] = sets = [];
        }

        string? note = null;
        var alreadyOpen = _open.Values.Sum(list => list.Sum(set => set.Connections.Count));
        if (alreadyOpen + count > FileLimit() - 256)
        {
            note = $"closed this broker's earlier S5 connections first (the file limit {FileLimit()} allows no more), so this run may reuse their memory";
            Close(sets);
            Thread.Sleep(options.Settle);
        }

        var tag = NextTag(Id);
        var set = new ConnectionSet(target);
        sets.Add(set);
        set.DrainIdleConnections();
        var before = ProcessStats.ResidentBytes(pid);
        var opened = 0;
        string? failure = null;
        for (var i = 0; i < count; i++)
        {
            try
            {
                set.Open($"idle{i}-{tag}").KeepAlive = true;
                opened++;
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or TimeoutException or InvalidOperationException)
            {
                failure = $"connection {i + 1} of {count} failed: {ex.Message}";
                break;
            }
        }

        Thread.Sleep(options.Settle);
        var after = ProcessStats.ResidentBytes(pid);
        var (errors, first) = set.CollectErrors();
        if (opened < count)
        {
            errors++;
        }

        return new RunMeasurement
        {
            Seconds = options.Settle.TotalSeconds,
            Sent = count,
            Received = opened,
            RssBefore = before,
            RssAfter = after,
            BytesPerConnection = before is { } b && after is { } a && opened > 0 ? (double)(a - b) / opened : null,
            Errors = errors,
            FirstError = failure ?? first ?? note,
        };
    }

    public override bool AlternatesBrokers => false;

    /// <summary>Closes every connection the runs kept open on <paramref name="target"/>.</summary>
    public override void Complete(BrokerTarget target, LoadOptions options)
    {
        if (_open.Remove(target.Name, out var sets) && sets.Count > 0)
        {
            Close(sets);
            Thread.Sleep(options.Settle); // the broker notices the closes before whatever runs next
        }
    }

    private static void Close(List<ConnectionSet> sets)
    {
        foreach (var set in sets)
        {
            set.Dispose();
        }

        sets.Clear();
    }

    /// <summary>This process's soft limit on open files (each connection is one).</summary>
    private static int FileLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var soft = line["Max open files".Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
                    return soft == "unlimited" ? int.MaxValue : int.Parse(soft, CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
        {
        }

        return 1024;
    }
}
