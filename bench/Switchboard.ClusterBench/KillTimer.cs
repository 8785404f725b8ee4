using System.Diagnostics;

namespace Switchboard.ClusterBench;

/// <summary>The time from SIGKILL of a node's process to <c>#disconnect</c> of its sender on another node.</summary>
internal static class KillTimer
{
    /// <summary>Puts a sender on the node at <paramref name="victimAddress"/> (process <paramref name="pid"/>), kills
    /// that process and waits for its <c>#disconnect</c> at a listener on <paramref name="observerAddress"/>.</summary>
    public static async Task<TimeSpan> RunAsync(string observerAddress, string victimAddress, int pid, CancellationToken ct)
    {
        var name = $"victim-{Environment.ProcessId}";
        await using var observer = await BusClient.ConnectAsync(observerAddress, new BusClientOptions { ClientName = "observer" }, ct);
        await using var disconnects = await observer.ListenAsync(name, "#disconnect", cancellationToken: ct);
        // A long reconnect delay: the victim's client must not come back through another route during the wait.
        var victim = await BusClient.ConnectAsync(victimAddress, new BusClientOptions { ClientName = "victim", ReconnectDelay = TimeSpan.FromMinutes(5) }, ct);
        await victim.AddSenderAsync(name, [], cancellationToken: ct);
        using var process = Process.GetProcessById(pid);
        var clock = Stopwatch.StartNew();
        process.Kill(); // SIGKILL on Unix
        await disconnects.ReadAsync(ct);
        var elapsed = clock.Elapsed;
        _ = victim.DisposeAsync().AsTask();
        return elapsed;
    }
}
