using System.Diagnostics;

namespace Switchboard.LoadTest;

/// <summary>
/// The connections of one run: opens them, runs one receive thread per active connection, pings idle ones (both
/// protocols expect a client to show it is alive; Switchboard cuts a silent connection after two heartbeat
/// intervals), and closes everything at the end. Every thread stops by itself once the set is disposed.
/// </summary>
internal sealed class ConnectionSet : IDisposable
{
    public static readonly TimeSpan SetupTimeout = TimeSpan.FromSeconds(60);
    private static readonly long KeepAliveIdle = Stopwatch.Frequency * 2;
    private readonly List<BenchConnection> _connections = [];
    private readonly List<Thread> _threads = [];
    private readonly Lock _sync = new();
    private readonly BrokerTarget _target;
    private readonly Timer _keepAlive;
    private volatile bool _stopping;
    private bool _drainIdle;
    private int _ticking;

    public ConnectionSet(BrokerTarget target)
    {
        _target = target;
        _keepAlive = new Timer(static state => ((ConnectionSet)state!).KeepAliveTick(), this, TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(500));
    }

    public IReadOnlyList<BenchConnection> Connections
    {
        get
        {
            lock (_sync)
            {
                return [.. _connections];
            }
        }
    }

    /// <summary>Opens a connection (handshake done), keeps it in the set. A publisher of an SSE target publishes over
    /// /ws on the same port (an SSE stream only receives).</summary>
    public BenchConnection Open(string name, bool publisher = false, int receiveBuffer = BenchConnection.ReceiveBufferSize)
    {
        var target = publisher && _target.Surface == Surface.Sse ? _target with { Surface = Surface.WebSocket } : _target;
        var connection = BenchConnection.Open(target, name, SetupTimeout, receiveBuffer);
        lock (_sync)
        {
            _connections.Add(connection);
        }

        return connection;
    }

    /// <summary>Connections without a receive thread: the keep-alive timer also reads what they were sent.</summary>
    public void DrainIdleConnections() => _drainIdle = true;

    /// <summary>Starts the receive thread of <paramref name="connection"/> and its keep-alive.</summary>
    public void StartReceiving(BenchConnection connection)
    {
        connection.KeepAlive = true;
        connection.HasReceiveThread = true;
        var thread = new Thread(() =>
        {
            try
            {
                while (!_stopping && connection.ReceiveOnce() != 0)
                {
                }
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ObjectDisposedException or IOException or InvalidDataException or Wire.ProtocolException)
            {
                connection.Fail(ex.Message);
            }
        })
        {
            IsBackground = true,
            Name = "recv " + connection.Name,
        };
        lock (_sync)
        {
            _threads.Add(thread);
        }

        thread.Start();
    }

    /// <summary>Errors reported on any connection, and connections the broker closed.</summary>
    public (int Errors, string? First) CollectErrors()
    {
        var errors = 0;
        string? first = null;
        foreach (var connection in Connections)
        {
            errors += connection.Errors;
            first ??= connection.LastError;
            if (connection.IsClosed && !_stopping)
            {
                errors++;
                first ??= $"{connection.Name}: closed by the broker";
            }
        }

        return (errors, first);
    }

    public void Dispose()
    {
        _stopping = true;
        _keepAlive.Dispose();
        // A socket receive waits at most 200 ms, then sees the stop flag; a WebSocket read waits until its socket is
        // closed, so the threads still running after a second are released by closing the connections.
        var joined = Stopwatch.StartNew();
        foreach (var thread in _threads)
        {
            thread.Join(TimeSpan.FromSeconds(1) - TimeSpan.FromTicks(Math.Min(joined.Elapsed.Ticks, TimeSpan.TicksPerSecond)));
        }

        foreach (var connection in Connections)
        {
            connection.Close();
        }

        foreach (var thread in _threads)
        {
            thread.Join(TimeSpan.FromSeconds(5));
        }
    }

    private void KeepAliveTick()
    {
        if (_stopping || Interlocked.Exchange(ref _ticking, 1) != 0)
        {
            return;
        }

        try
        {
            foreach (var connection in Connections)
            {
                connection.Tick(KeepAliveIdle, drain: _drainIdle && !connection.HasReceiveThread);
            }
        }
        finally
        {
            Volatile.Write(ref _ticking, 0);
        }
    }
}
