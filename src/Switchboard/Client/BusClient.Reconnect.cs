using System.Net.Sockets;

using Switchboard.Client;

namespace Switchboard;

public sealed partial class BusClient
{
    /// <summary>Keeps the client connected: waits for the connection to end, then reconnects with back-off and jitter.
    /// <paramref name="connection"/> is null when the first connection is still to be made (<see cref="BusClientOptions.RetryInitialConnect"/>).</summary>
    private async Task RunAsync(Connection? connection)
    {
        var first = connection is null;
        while (true)
        {
            if (connection is not null)
            {
                await Task.WhenAll(connection.Reading, connection.Writing).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                OnLost(connection);
                if (_disposing.IsCancellationRequested)
                {
                    return;
                }
            }

            connection = await ReconnectAsync();
            if (connection is null)
            {
                return;
            }

            if (await ConfirmedAsync(connection))
            {
                var args = new ConnectionEventArgs(connection.Address.Text, null);
                (first ? Connected : Reconnected)?.Invoke(this, args);
                first = false;
            }
        }
    }

    /// <summary>Waits until the broker answered every registration sent again on <paramref name="connection"/>, so that
    /// whoever hears of the reconnect finds them registered; false if the connection ended meanwhile.</summary>
    private async Task<bool> ConfirmedAsync(Connection connection)
    {
        try
        {
            await connection.Replayed.WaitAsync(_options.ConnectTimeout, _options.Bus.TimeProvider, connection.Token);
        }
        catch (TimeoutException)
        {
            _log.RegistrationsUnconfirmed(connection.Address, _options.ConnectTimeout);
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        return !connection.Token.IsCancellationRequested;
    }

    /// <summary>A connection ended: frames still waiting for it are dropped (counted), calls waiting on it fail.</summary>
    private void OnLost(Connection connection)
    {
        lock (_state)
        {
            if (ReferenceEquals(_connection, connection))
            {
                Volatile.Write(ref _connection, null);
            }
        }

        if (_disposed != 0)
        {
            return;
        }

        var dropped = _out.Clear();
        for (var i = 0; i < dropped; i++)
        {
            Counters.AddOfflineDrop();
        }

        var reason = connection.CloseReason ?? "closed";
        FailPending(new SwitchboardException(ErrorCodes.ConnectionLost, $"The connection to {connection.Address} was lost ({reason}) before the broker answered."));
        _log.ConnectionLost(connection.Address, reason, dropped);
        Disconnected?.Invoke(this, new ConnectionEventArgs(connection.Address.Text, reason) { Loss = connection.Loss ?? ConnectionLoss.Lost });
    }

    private async Task<Connection?> ReconnectAsync()
    {
        var delay = _options.ReconnectDelay;
        var refusals = 0;
        while (!_disposing.IsCancellationRequested)
        {
            foreach (var address in _addresses.OrderBy(_ => Random.Shared.Next()))
            {
                try
                {
                    return await OpenAsync(address, _disposing.Token);
                }
                catch (SwitchboardException ex) when (ex.Code == ErrorCodes.Unauthorized)
                {
                    // Repeating refused credentials only gets the client banned; stop after three.
                    if (++refusals >= 3)
                    {
                        _log.GivingUpOnCredentials(ex.Message);
                        return null;
                    }
                }
                catch (Exception ex) when (ex is SocketException or IOException or System.Net.WebSockets.WebSocketException or TimeoutException or SwitchboardException or OperationCanceledException && !_disposing.IsCancellationRequested)
                {
                    _log.ReconnectFailed(address, ex.Message);
                }
                catch (OperationCanceledException)
                {
                    return null;
                }
            }

            var jittered = delay * (0.5 + Random.Shared.NextDouble());
            try
            {
                await Task.Delay(jittered, _options.Bus.TimeProvider, _disposing.Token);
            }
            catch (OperationCanceledException)
            {
                return null;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
        }

        return null;
    }
}
