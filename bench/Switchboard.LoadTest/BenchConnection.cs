using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Switchboard.LoadTest;

/// <summary>What a scenario does with the traffic a connection receives.</summary>
internal interface IInboundHandler
{
    void OnMessage(int sid, ReadOnlySpan<byte> payload) { }

    void OnRequest(BenchConnection connection, ReadOnlySpan<byte> replyTo, int payloadLength) { }

    void OnReply(uint id, bool ok) { }

    /// <summary>After each received chunk was parsed: publish counts, send what was batched.</summary>
    void OnChunkParsed(BenchConnection connection) { }
}

/// <summary>
/// One raw TCP connection to 127.0.0.1 with blocking sends (under a lock: the publisher, the receive thread's
/// answers and the keep-alive share it) and a receive buffer parsed by the broker's <see cref="WireCodec"/>.
/// Setup steps are pipelined and end with a barrier the broker answers only after processing them. Over TLS the same
/// bytes go through an <see cref="SslStream"/> on the blocking socket; over WebSocket through a
/// <see cref="WebSocketStream"/> (binary messages, one per send) after an HTTP upgrade written by hand.
/// </summary>
internal sealed class BenchConnection : IWireEvents, IDisposable
{
    /// <summary>The receive buffer of a connection of a few subscribers (it grows for a larger message).</summary>
    public const int ReceiveBufferSize = 256 * 1024;
    private static readonly IInboundHandler NoHandler = new NullHandler();
    private readonly Socket _socket;
    private Stream? _stream; // TLS or WebSocket; null: the socket itself
    private readonly Lock _sendLock = new();
    private readonly ArrayBufferWriter<byte> _control = new(4096);
    private byte[] _in;
    private int _start;
    private int _end;
    private long _lastSend = Stopwatch.GetTimestamp();
    private int _barriers;
    private int _errors;
    private string? _lastError;
    private volatile bool _closed;

    private BenchConnection(Socket socket, WireCodec codec, string name, int receiveBuffer)
    {
        _socket = socket;
        _in = new byte[receiveBuffer];
        Codec = codec;
        Name = name;
    }

    public WireCodec Codec { get; }

    public string Name { get; }

    public IInboundHandler Handler { get; set; } = NoHandler;

    /// <summary>Keep-alive pings are sent only once setup is over (a NATS PONG would otherwise look like a barrier).</summary>
    public bool KeepAlive { get; set; }

    /// <summary>True once a thread of its own receives for this connection (else the keep-alive timer reads for it).</summary>
    public bool HasReceiveThread { get; set; }

    public bool IsClosed => _closed;

    public int Errors => Volatile.Read(ref _errors);

    public string? LastError => Volatile.Read(ref _lastError);

    /// <summary>Connects to the target on 127.0.0.1 (with TLS when it has a certificate, over /ws for a WebSocket target) and completes the handshake.</summary>
    public static BenchConnection Open(BrokerTarget target, string name, TimeSpan timeout, int receiveBuffer = ReceiveBufferSize)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            // A synchronous connect keeps the socket in blocking mode (an async call would switch it to emulated blocking for good).
            // On loopback it succeeds or is refused at once; only a full accept backlog makes it wait, for the kernel's SYN retries.
            socket.Connect(new IPEndPoint(IPAddress.Loopback, target.Port));
            socket.SendTimeout = 10_000; // a broker that stops reading fails the run instead of hanging it
            var connection = new BenchConnection(socket, WireCodec.Create(target), name, receiveBuffer);
            if (target.Tls is { } pinned)
            {
                connection.StartTls(target.Kind, pinned, timeout);
            }

            if (target.Surface == Surface.WebSocket)
            {
                connection.StartWebSocket(target.Port, timeout);
            }

            socket.ReceiveTimeout = 200;
            connection.Setup((codec, output) => codec.WriteHandshake(output, name), timeout);
            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>TLS from the first byte (Switchboard's sbs://), or after the server's plaintext INFO line (nats-server).</summary>
    private void StartTls(BrokerKind kind, X509Certificate2 pinned, TimeSpan timeout)
    {
        _socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        if (kind == BrokerKind.Nats)
        {
            ReadLine();
        }

        var tls = new SslStream(new NetworkStream(_socket, ownsSocket: false), leaveInnerStreamOpen: false,
            (_, certificate, _, _) => certificate is not null && pinned.RawDataMemory.Span.SequenceEqual(certificate.GetRawCertData()));
        _stream = tls;
        tls.AuthenticateAsClient("localhost");
    }

    /// <summary>The HTTP upgrade to <c>/ws</c>, then the binary protocol in binary WebSocket messages.</summary>
    private void StartWebSocket(int port, TimeSpan timeout)
    {
        _socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        _socket.Send(Encoding.ASCII.GetBytes($"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        var status = ReadLine();
        if (!status.Contains(" 101 ", StringComparison.Ordinal))
        {
            throw new IOException($"{Name}: GET /ws was answered '{status}'.");
        }

        while (ReadLine().Length > 0)
        {
        }

        // No keep-alive frames of its own: the protocol's PING/PONG keeps the connection alive, as on TCP.
        var socket = WebSocket.CreateFromStream(new NetworkStream(_socket, ownsSocket: false), new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        _stream = WebSocketStream.Create(socket, WebSocketMessageType.Binary, ownsWebSocket: true);
    }

    /// <summary>Reads one plaintext line byte by byte (without its CR LF), so nothing after it is taken from what follows.</summary>
    private string ReadLine()
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (_socket.Receive(one) == 1 && one[0] != (byte)'\n')
        {
            if (one[0] != (byte)'\r')
            {
                line.Append((char)one[0]);
            }
        }

        return line.ToString();
    }

    /// <summary>Sends what <paramref name="encode"/> writes followed by a barrier, then receives on this thread until the barrier is answered.</summary>
    public void Setup(Action<WireCodec, IBufferWriter<byte>> encode, TimeSpan timeout)
    {
        var target = Volatile.Read(ref _barriers) + 1;
        var errorsBefore = Errors;
        var output = new ArrayBufferWriter<byte>(4096);
        encode(Codec, output);
        Codec.WriteBarrier(output);
        if (output.WrittenCount == 0)
        {
            return; // nothing to send, so nothing to wait for (an SSE connection's handshake: its request is its subscription)
        }

        Send(output.WrittenSpan);
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Volatile.Read(ref _barriers) < target)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"{Name}: the broker did not answer the setup barrier within {timeout.TotalSeconds:0.#} s.");
            }

            if (ReceiveOnce() == 0)
            {
                throw new IOException($"{Name}: the broker closed the connection during setup{(LastError is { } e ? ": " + e : ".")}");
            }
        }

        if (Errors != errorsBefore)
        {
            throw new InvalidOperationException($"{Name}: the broker refused a setup step: {LastError}");
        }
    }

    /// <summary>Sends all of <paramref name="bytes"/>.</summary>
    public void Send(ReadOnlySpan<byte> bytes)
    {
        lock (_sendLock)
        {
            SendLocked(bytes);
        }
    }

    /// <summary>Sends a keep-alive ping when nothing was sent for <paramref name="idleTicks"/>, and reads what is waiting without blocking when <paramref name="drain"/>.</summary>
    public void Tick(long idleTicks, bool drain)
    {
        if (_closed)
        {
            return;
        }

        try
        {
            if (KeepAlive && Stopwatch.GetTimestamp() - Volatile.Read(ref _lastSend) > idleTicks)
            {
                lock (_sendLock)
                {
                    _control.ResetWrittenCount();
                    Codec.WritePing(_control, (ulong)Stopwatch.GetTimestamp());
                    SendLocked(_control.WrittenSpan);
                }
            }

            while (drain && _stream is null && _socket.Available > 0 && ReceiveOnce() > 0)
            {
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
        {
            _closed = true;
        }
    }

    /// <summary>
    /// One receive (waits up to the socket's 200 ms timeout) and parses every whole message in the buffer.
    /// Returns the bytes received, -1 when the wait timed out, 0 when the connection is closed.
    /// </summary>
    public int ReceiveOnce()
    {
        if (_closed)
        {
            return 0;
        }

        if (_end == _in.Length)
        {
            if (_start > 0)
            {
                _in.AsSpan(_start, _end - _start).CopyTo(_in);
                _end -= _start;
                _start = 0;
            }
            else
            {
                Array.Resize(ref _in, _in.Length * 2); // one message larger than the buffer
            }
        }

        int received;
        SocketError error;
        try
        {
            received = _stream is null ? _socket.Receive(_in, _end, _in.Length - _end, SocketFlags.None, out error) : ReceiveStream(out error);
        }
        catch (ObjectDisposedException)
        {
            _closed = true;
            return 0;
        }

        if (error == SocketError.TimedOut || error == SocketError.WouldBlock)
        {
            return -1;
        }

        if (error != SocketError.Success || received == 0)
        {
            _closed = true;
            return 0;
        }

        _end += received;
        _start += Codec.Parse(_in.AsMemory(_start, _end - _start), this);
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_start > _in.Length / 2)
        {
            _in.AsSpan(_start, _end - _start).CopyTo(_in);
            _end -= _start;
            _start = 0;
        }

        Handler.OnChunkParsed(this);
        return received;
    }

    /// <summary>A read of the TLS or WebSocket stream. A WebSocket read does not time out (its socket reads are
    /// asynchronous): it ends when data comes or when <see cref="Close"/> closes the socket.</summary>
    private int ReceiveStream(out SocketError error)
    {
        try
        {
            error = SocketError.Success;
            return _stream!.Read(_in, _end, _in.Length - _end);
        }
        catch (IOException ex) when (ex.InnerException is SocketException socket)
        {
            error = socket.SocketErrorCode;
            return 0;
        }
        catch (Exception ex) when (ex is IOException or WebSocketException or OperationCanceledException)
        {
            error = SocketError.ConnectionReset;
            return 0;
        }
    }

    /// <summary>Records a failure of this connection's loop (a socket or parse error) and marks it closed.</summary>
    public void Fail(string message)
    {
        Interlocked.Increment(ref _errors);
        Volatile.Write(ref _lastError, $"{Name}: {message}");
        _closed = true;
    }

    /// <summary>Says goodbye if the protocol has it, then closes.</summary>
    public void Close()
    {
        if (!_closed)
        {
            try
            {
                lock (_sendLock)
                {
                    _control.ResetWrittenCount();
                    Codec.WriteGoodbye(_control);
                    if (_control.WrittenCount > 0)
                    {
                        SendLocked(_control.WrittenSpan);
                    }
                }

                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        }

        _closed = true;
        _socket.Dispose(); // first: a WebSocket read blocked on it ends now
        try
        {
            _stream?.Dispose();
        }
        catch (Exception ex) when (ex is IOException or WebSocketException or ObjectDisposedException)
        {
            // a WebSocket's close handshake on a socket already closed
        }
    }

    public void Dispose() => Close();

    void IWireEvents.OnHandshake()
    {
    }

    void IWireEvents.OnBarrier() => Interlocked.Increment(ref _barriers);

    void IWireEvents.OnPing(ulong nonce)
    {
        lock (_sendLock)
        {
            _control.ResetWrittenCount();
            Codec.WritePong(_control, nonce);
            SendLocked(_control.WrittenSpan);
        }
    }

    void IWireEvents.OnError(string message, bool fatal)
    {
        Interlocked.Increment(ref _errors);
        Volatile.Write(ref _lastError, message);
    }

    void IWireEvents.OnMessage(int sid, ReadOnlySpan<byte> payload) => Handler.OnMessage(sid, payload);

    void IWireEvents.OnRequest(ReadOnlySpan<byte> replyTo, int payloadLength) => Handler.OnRequest(this, replyTo, payloadLength);

    void IWireEvents.OnReply(uint id, bool ok) => Handler.OnReply(id, ok);

    private void SendLocked(ReadOnlySpan<byte> bytes)
    {
        if (_stream is not null && !bytes.IsEmpty)
        {
            _stream.Write(bytes);
        }

        while (_stream is null && !bytes.IsEmpty)
        {
            var sent = _socket.Send(bytes, SocketFlags.None);
            bytes = bytes[sent..];
        }

        Volatile.Write(ref _lastSend, Stopwatch.GetTimestamp());
    }

    private sealed class NullHandler : IInboundHandler
    {
    }
}
