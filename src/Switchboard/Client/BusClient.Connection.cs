using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Switchboard.Client;
using Switchboard.Wire;

namespace Switchboard;

public sealed partial class BusClient
{
    private Connection? _connection;
    private Task _runner = Task.CompletedTask;
    private Task _heartbeat = Task.CompletedTask;

    /// <summary>The first connection: every address once, in order. Failing all is an error naming each failure, or,
    /// with <see cref="BusClientOptions.RetryInitialConnect"/>, the start of reconnecting in the background.</summary>
    private async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("This BusClient was already connected; it reconnects by itself.");
        }

        var failures = new List<string>();
        var refused = false;
        foreach (var address in _addresses)
        {
            try
            {
                var connection = await OpenAsync(address, cancellationToken);
                await ConfirmedAsync(connection);
                _runner = RunAsync(connection);
                _heartbeat = RunHeartbeatAsync();
                Connected?.Invoke(this, new ConnectionEventArgs(address.Text, null));
                return;
            }
            catch (Exception ex) when (ex is SocketException or IOException or System.Net.WebSockets.WebSocketException or TimeoutException or OperationCanceledException or SwitchboardException && !cancellationToken.IsCancellationRequested)
            {
                failures.Add($"{address}: {ex.Message}");
                if (ex is SwitchboardException { Code: ErrorCodes.Unauthorized })
                {
                    refused = true;
                    break; // retrying refused credentials cannot help
                }
            }
        }

        var error = new SwitchboardException(ErrorCodes.ConnectFailed, $"Could not connect to any broker: {string.Join("; ", failures)}");
        if (!_options.RetryInitialConnect || refused)
        {
            throw error;
        }

        _log.RetryingInitialConnect(error.Message);
        _runner = RunAsync(null);
        _heartbeat = RunHeartbeatAsync();
    }

    /// <summary>TLS over the socket (<c>sbs://</c>): the broker's certificate must chain to a trusted root (the system's, or
    /// <see cref="BusTlsOptions.TrustedRoots"/>) and carry the address's host name. A failure is an <see cref="IOException"/>,
    /// so it reads as any other failed connection attempt ("could not connect to ...: TLS ...").</summary>
    private async Task<Stream> StartTlsAsync(Stream inner, string host, CancellationToken cancellationToken)
    {
        var tls = new SslStream(inner, leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions { TargetHost = host };
        if (_options.Tls.ClientCertificate is { } certificate)
        {
            options.ClientCertificates = [certificate];
        }

        if (_options.Tls.TrustedRoots is { } roots)
        {
            // A private authority: only its roots, and no revocation lists to fetch (it has none to offer).
            options.CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            options.CertificateChainPolicy.CustomTrustStore.AddRange(roots);
        }

        try
        {
            await tls.AuthenticateAsClientAsync(options, cancellationToken);
            return tls;
        }
        catch (AuthenticationException ex)
        {
            await tls.DisposeAsync();
            throw new IOException($"TLS with {host} failed: {ex.Message}", ex);
        }
    }

    /// <summary>Opens a socket, shakes hands, registers everything again and starts the loops.</summary>
    /// <summary>The credentials for this handshake: <see cref="BusClientOptions.CredentialsProvider"/>'s answer, else the fixed ones.</summary>
    private async ValueTask<string?> CredentialsAsync(CancellationToken cancellationToken)
    {
        if (_options.CredentialsProvider is not { } provide)
        {
            return _options.Credentials;
        }

        try
        {
            return await provide(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A failing provider (its token server is down) fails this attempt only: reconnecting retries it later.
            throw new SwitchboardException(ErrorCodes.ConnectFailed, $"BusClientOptions.CredentialsProvider failed: {ex.Message}", ex);
        }
    }

    private async Task<Connection> OpenAsync(BusAddress address, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ConnectTimeout);
        Socket? socket = null;
        Stream? stream = null;
        Connection? connection = null;
        try
        {
            if (address.WebSocketUri is { } webSocket && _options.Tls != BusTlsOptions.Default)
            {
                stream = await BusAddress.OpenWebSocketAsync(webSocket, _options.Tls, timeout.Token);
            }
            else if (address.OpenStream is { } open)
            {
                stream = await open(timeout.Token);
            }
            else
            {
                socket = address.EndPoint is UnixDomainSocketEndPoint
                    ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                    : new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(address.EndPoint!, timeout.Token);
                stream = new NetworkStream(socket, ownsSocket: true);
                if (address.TlsHost is { } host)
                {
                    stream = await StartTlsAsync(stream, host, timeout.Token);
                }
            }

            connection = new Connection(address, socket, stream, _options.Bus.TimeProvider);
            var credentials = await CredentialsAsync(timeout.Token);
            var hello = new ArrayBufferWriter<byte>(256);
            var features = Protocol.FeaturePagedLists | (_crc ? Protocol.FeatureCrc : 0);
            Frames.Hello(hello, _crc, Protocol.Version, _options.ClientName, credentials, features, (uint)_options.HeartbeatInterval.TotalMilliseconds, (uint)_options.MaxFrameSize);
            await stream.WriteAsync(hello.WrittenMemory, timeout.Token);
            await stream.FlushAsync(timeout.Token);
            var parser = new FrameParser(_options.MaxFrameSize);
            await ReadWelcomeAsync(connection, parser, timeout.Token);
            connection.Replayed = await ActivateAsync(connection);
            _senderPages.Clear(); // pages of a list asked on a lost connection will not be completed
            connection.Reading = ReadLoopAsync(connection, parser);
            connection.Writing = WriteLoopAsync(connection);
            return connection;
        }
        catch
        {
            if (connection is not null)
            {
                connection.Abort("handshake failed");
            }
            else
            {
                socket?.Dispose();
                if (stream is not null)
                {
                    await stream.DisposeAsync();
                }
            }

            throw;
        }
    }

    private async Task ReadWelcomeAsync(Connection connection, FrameParser parser, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await connection.Reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            bool welcomed;
            try
            {
                welcomed = TryWelcome(parser, ref buffer);
            }
            catch (ProtocolException ex) when (ex.Code == ErrorCodes.BadChecksum && connection.Address.IsLossy)
            {
                Counters.AddCorruptFrame();
                welcomed = false;
            }

            connection.Reader.AdvanceTo(buffer.Start, buffer.End);
            if (welcomed)
            {
                return;
            }

            if (result.IsCompleted)
            {
                throw new IOException("The broker closed the connection during the handshake.");
            }
        }
    }

    private static bool TryWelcome(FrameParser parser, ref ReadOnlySequence<byte> buffer)
    {
        if (!parser.TryRead(ref buffer, out var type, out var body))
        {
            return false;
        }

        var r = new SpanReader(body, type);
        switch (type)
        {
            case FrameType.Welcome:
                var version = r.U16("version");
                if (version != Protocol.Version)
                {
                    throw new ProtocolException(ErrorCodes.UnsupportedVersion, $"The broker speaks protocol version {version}; this client speaks {Protocol.Version}.");
                }

                return true;
            case FrameType.Error:
                var error = Frames.ReadError(body);
                throw SwitchboardException.FromCode(error.Code, error.Message);
            default:
                throw new ProtocolException(ErrorCodes.UnexpectedFrame, $"Expected WELCOME from the broker, got {type}.");
        }
    }

    /// <summary>
    /// Makes <paramref name="connection"/> current and registers every registration again, written to the socket
    /// directly so that it precedes whatever waited in the outbound buffer meanwhile (triggers of those senders).
    /// </summary>
    private async Task<Task> ActivateAsync(Connection connection)
    {
        var replay = new ArrayBufferWriter<byte>(1024);
        var confirmations = new List<Task>();
        lock (_state)
        {
            foreach (var registration in _registrations)
            {
                if (registration.IsRemoved)
                {
                    continue;
                }

                var correlation = NextId();
                var call = new ReplayCall(this, registration);
                _pending[correlation] = call;
                confirmations.Add(call.Answered);
                registration.WriteRegistration(replay, _crc, correlation);
            }

            Volatile.Write(ref _connection, connection);
        }

        if (replay.WrittenCount > 0)
        {
            await connection.Stream.WriteAsync(replay.WrittenMemory, connection.Token);
        }

        return Task.WhenAll(confirmations);
    }

    private async Task ReadLoopAsync(Connection connection, FrameParser parser)
    {
        var reader = connection.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(connection.Token);
                var buffer = result.Buffer;
                try
                {
                    while (TryProcessTolerant(connection, parser, ref buffer, out var pending))
                    {
                        if (!pending.IsCompletedSuccessfully)
                        {
                            await pending;
                        }
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                }

                if (result.IsCompleted)
                {
                    connection.End(ConnectionLoss.Lost, "the broker closed the connection without notice");
                    return;
                }
            }
        }
        catch (ProtocolException ex)
        {
            connection.End(ConnectionLoss.ProtocolError, $"the broker broke the protocol: {ex.Message}");
            _log.BrokerBrokeProtocol(connection.Address, ex.Message);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            connection.End(ConnectionLoss.Lost, ex.Message);
        }
        finally
        {
            connection.Abort(connection.CloseReason ?? "closed");
        }
    }

    /// <summary>On a lossy carrier a frame that fails its CRC is dropped and counted, and the link goes on.</summary>
    private bool TryProcessTolerant(Connection connection, FrameParser parser, ref ReadOnlySequence<byte> buffer, out ValueTask pending)
    {
        while (true)
        {
            try
            {
                return TryProcess(connection, parser, ref buffer, out pending);
            }
            catch (ProtocolException ex) when (ex.Code == ErrorCodes.BadChecksum && connection.Address.IsLossy)
            {
                Counters.AddCorruptFrame();
                _log.CorruptFrameDropped(connection.Address, ex.Message);
            }
        }
    }

    private bool TryProcess(Connection connection, FrameParser parser, ref ReadOnlySequence<byte> buffer, out ValueTask pending)
    {
        if (!parser.TryReadFrame(ref buffer, out var type, out var body))
        {
            pending = default;
            return false;
        }

        connection.Touch();
        pending = Dispatch(connection, type, body);
        return true;
    }

    private async Task WriteLoopAsync(Connection connection)
    {
        try
        {
            while (true)
            {
                var batch = await _out.TakeAsync(connection.Token);
                if (batch.IsEmpty)
                {
                    return;
                }

                connection.LastSent = _options.Bus.TimeProvider.GetTimestamp();
                await connection.Stream.WriteAsync(batch, connection.Token);
                if (connection.Socket is null)
                {
                    await connection.Stream.FlushAsync(connection.Token);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            connection.End(ConnectionLoss.Lost, $"write failed: {ex.Message}");
        }
        finally
        {
            connection.Abort(connection.CloseReason ?? "closed");
        }
    }

    /// <summary>One timer for this client: ping an idle broker, drop a silent one.</summary>
    private async Task RunHeartbeatAsync()
    {
        var time = _options.Bus.TimeProvider;
        var interval = _options.HeartbeatInterval;
        using var timer = new PeriodicTimer(interval / 2, time);
        try
        {
            while (await timer.WaitForNextTickAsync(_disposing.Token))
            {
                if (Volatile.Read(ref _connection) is not { } connection)
                {
                    continue;
                }

                var now = time.GetTimestamp();
                if (time.GetElapsedTime(connection.LastReceived, now) > interval * _options.HeartbeatMisses)
                {
                    _log.BrokerHeartbeatMissed(connection.Address);
                    connection.End(ConnectionLoss.HeartbeatTimeout, "heartbeat timeout");
                    connection.Abort("heartbeat timeout");
                }
                else if (time.GetElapsedTime(connection.LastReceived, now) >= interval / 2)
                {
                    _out.Write(Lane.Control, (ulong)now, static (output, crc, in nonce) => Frames.PingPong(output, crc, FrameType.Ping, nonce));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed class Connection
    {
        private readonly CancellationTokenSource _cancel = new();
        private readonly TimeProvider _time;
        private long _lastReceived;

        public Connection(BusAddress address, Socket? socket, Stream stream, TimeProvider time)
        {
            Address = address;
            Socket = socket;
            Stream = stream;
            _time = time;
            Reader = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
            _lastReceived = LastSent = time.GetTimestamp();
        }

        public BusAddress Address { get; }

        public Socket? Socket { get; }

        public Stream Stream { get; }

        public PipeReader Reader { get; }

        public CancellationToken Token => _cancel.Token;

        public Task Reading { get; set; } = Task.CompletedTask;

        public Task Writing { get; set; } = Task.CompletedTask;

        public string? CloseReason { get; private set; }

        public ConnectionLoss? Loss { get; private set; }

        /// <summary>Every registration sent again on this connection, confirmed (or refused) by the broker.</summary>
        public Task Replayed { get; set; } = Task.CompletedTask;

        /// <summary>Records why the connection ends; the first cause wins.</summary>
        public void End(ConnectionLoss loss, string reason)
        {
            if (CloseReason is null)
            {
                Loss = loss;
                CloseReason = reason;
            }
        }

        public long LastReceived => Volatile.Read(ref _lastReceived);

        public long LastSent { get; set; }

        public void Touch() => Volatile.Write(ref _lastReceived, _time.GetTimestamp());

        public void Abort(string reason)
        {
            End(ConnectionLoss.Lost, reason);
            try
            {
                _cancel.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }

            if (Socket is not null)
            {
                Socket.Dispose();
            }
            else
            {
                Stream.Dispose();
            }
        }
    }

    /// <summary>The answer to a registration sent again after a reconnect.</summary>
    private sealed class ReplayCall : IPendingCall
    {
        private readonly BusClient _client;
        private readonly Client.ClientRegistration _registration;
        private readonly TaskCompletionSource _answered = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ReplayCall(BusClient client, Client.ClientRegistration registration)
        {
            _client = client;
            _registration = registration;
        }

        /// <summary>Completes when the broker answered (accepted or refused), or the connection ended first.</summary>
        public Task Answered => _answered.Task;

        public void Complete(object? result)
        {
            _registration.Complete(result);
            _answered.TrySetResult();
        }

        public void Fail(Exception error)
        {
            _answered.TrySetResult();
            var seenByCaller = _registration.Registered.IsCompleted || _registration.Buffered;
            if (seenByCaller && error is SwitchboardException { Code: not ErrorCodes.ConnectionLost } refusal)
            {
                // It was registered before the reconnect and the broker refused it now (its name was taken meanwhile).
                _client._log.RegistrationRefusedAgain(refusal.Message);
                _client.Error?.Invoke(_client, refusal);
            }

            _registration.Fail(error);
        }
    }
}
