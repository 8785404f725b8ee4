namespace Switchboard.LoadTest;

/// <summary>
/// S5: opens N connections that complete the handshake and then only answer and send keep-alive pings; the broker's
/// VmRSS growth divided by N is its memory per idle connection. Needs the broker's PID (a separate process).
/// </summary>
internal sealed class IdleConnectionsScenario(string id, string title) : Scenario(id, title)
{
    public override RunMeasurement Run(BrokerTarget target, LoadOptions options, TimeSpan duration, bool warmup)
    {
        if (target.Pid is not { } pid)
        {
            throw new InvalidOperationException("S5 needs the broker's process id (PORT:PID) to read its RSS.");
        }

        var count = warmup ? Math.Min(200, options.IdleConnections) : options.IdleConnections;
        var tag = NextTag(Id);
        long? before;
        long? after;
        var opened = 0;
        string? failure = null;
        var errors = 0;
        using (var set = new ConnectionSet(target))
        {
            set.DrainIdleConnections();
            before = ProcessStats.ResidentBytes(pid);
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
            after = ProcessStats.ResidentBytes(pid);
            (errors, var first) = set.CollectErrors();
            failure ??= first;
            if (opened < count)
            {
                errors++;
            }
        }

        Thread.Sleep(options.Settle); // let the broker notice the closes before the next run measures its baseline
        return new RunMeasurement
        {
            Seconds = options.Settle.TotalSeconds,
            Sent = count,
            Received = opened,
            RssBefore = before,
            RssAfter = after,
            BytesPerConnection = before is { } b && after is { } a && opened > 0 ? (double)(a - b) / opened : null,
            Errors = errors,
            FirstError = failure,
        };
    }
}
