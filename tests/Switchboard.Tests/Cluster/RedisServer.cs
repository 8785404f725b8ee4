using System.Diagnostics;
using System.Net.Sockets;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Cluster;

/// <summary>
/// A real <c>redis-server</c> (installed by tests/run.sh when missing: a missing one fails the test, never skips it)
/// on a free port of 127.0.0.1, without persistence, so a restart loses every key as a real crash of an unpersisted
/// Redis does. Stopped by its PID.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private Process? _process;

    private RedisServer(int port) => Port = port;

    public int Port { get; }

    /// <summary>host:port, as <see cref="Switchboard.Redis.ClusterOptions.Redis"/> takes it.</summary>
    public string Address => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            // A free port can be taken by another test between FreePort and the bind: then try another.
            var server = new RedisServer(Fixtures.FreePort());
            if (await server.TryStartAsync() || attempt == 5)
            {
                Assert.True(server._process is not null, $"redis-server could not bind a free port in {attempt} attempts");
                return server;
            }
        }
    }

    /// <summary>Starts the server again on its port; returns once it accepts connections.</summary>
    public async Task StartAgainAsync() => Assert.True(await TryStartAsync(), $"redis-server did not start again on port {Port}");

    /// <summary>Starts redis-server on <see cref="Port"/> and waits for its own "Ready to accept connections" (so a
    /// server of another test on the same port is never mistaken for this one); false when it exited instead.</summary>
    private async Task<bool> TryStartAsync()
    {
        var info = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "notice" })
        {
            info.ArgumentList.Add(arg);
        }

        var ready = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start");
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                ready.TrySetResult(false); // exited (the port was taken)
            }
            else if (e.Data.Contains("Ready to accept connections", StringComparison.Ordinal))
            {
                ready.TrySetResult(true);
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var started = await ready.Task.WaitAsync(Wait.Timeout);
        if (!started)
        {
            await process.WaitForExitAsync();
            process.Dispose();
            return false;
        }

        _process = process;
        Assert.True(await AcceptsAsync(), $"redis-server said it was ready but {Address} refuses connections");
        return true;
    }

    private async Task<bool> AcceptsAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Kills the server (SIGKILL, by its PID) and waits for it to be gone.</summary>
    public async Task KillAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            if (!process.HasExited)
            {
                process.Kill();
            }

            await process.WaitForExitAsync();
            process.Dispose();
        }
    }

    public async ValueTask DisposeAsync() => await KillAsync();
}
