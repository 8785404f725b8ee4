using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Switchboard.LoadTest;

/// <summary>What a scenario does with the traffic a connection receives.</summary>
internal interface IInboundHandler
{
    void OnMessage(int sid, int payloadLength) { }

    void OnRequest(BenchConnection connection, ReadOnlySpan<byte> replyTo, int payloadLength) { }

    void OnReply(uint id, bool ok) { }

    /// <summary>After each received chunk was parsed: publish counts, send what was batched.</summary>
    void OnChunkParsed(BenchConnection connection) { }
}

/// <summary>
/// One raw TCP connection to 127.0.0.1 with blocking sends (under a lock: the publisher, the receive thread's
/// answers and the keep-alive share it) and a receive buffer parsed by the broker's <see cref="WireCodec"/>.
/// Setup steps are pipelined and end with a barrier the broker answers only after processing them. Over TLS the same
/// bytes go through an <see cref="SslStream"/> on the blocking socket.
/// </summary>
internal sealed class BenchConnection : IWireEvents, IDisposable
{
    private const int ReceiveBufferSize = 256 * 1024;
    private static readonly IInboundHandler NoHandler = new NullHandler();
    private readonly Socket _socket;
    private SslStream? _tls;
    private readonly Lock _sendLock = new();
    private readonly ArrayBufferWriter<byte> _control = new(4096);
    private byte[] _in = new byte[ReceiveBufferSize];
    private int _start;
    private int _end;
    private long _lastSend = Stopwatch.GetTimestamp();
    private int _barriers;
    private int _errors;
    private string? _lastError;
    private volatile bool _closed;

    private BenchConnection(Socket socket, WireCodec codec, string name)
    {
        _socket = socket;
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

    /// <summary>Connects to the target on 127.0.0.1 (with TLS when it has a certificate) and completes the handshake.</summary>
    public static BenchConnection Open(BrokerTarget target, string name, TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            // A synchronous connect keeps the socket in blocking mode (an async call would switch it to emulated blocking for good).
            // On loopback it succeeds or is refused at once; only a full accept backlog makes it wait, for the kernel's SYN retries.
            socket.Connect(new IPEndPoint(IPAddress.Loopback, target.Port));
            socket.SendTimeout = 10_000; // a broker that stops reading fails the run instead of hanging it
            var connection = new BenchConnection(socket, WireCodec.Create(target.Kind), name);
            if (target.Tls is { } pinned)
            {
                connection.StartTls(target.Kind, pinned, timeout);
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
            SkipLine();
        }

        _tls = new SslStream(new NetworkStream(_socket, ownsSocket: false), leaveInnerStreamOpen: false,
            (_, certificate, _, _) => certificate is not null && pinned.RawDataMemory.Span.SequenceEqual(certificate.GetRawCertData()));
        _tls.AuthenticateAsClient("localhost");
    }

    /// <summary>Reads one plaintext line byte by byte, so nothing after it is taken from the TLS handshake.</summary>
    private void SkipLine()
    {
        var one = new byte[1];
        while (_socket.Receive(one) == 1 && one[0] != (byte)'\n')
        {
        }
    }

    /// <summary>Sends what <paramref name="encode"/> writes followed by a barrier, then receives on this thread until the barrier is answered.</summary>
    public void Setup(Action<WireCodec, IBufferWriter<byte>> encode, TimeSpan timeout)
    {
        var target = Volatile.Read(ref _barriers) + 1;
        var errorsBefore = Errors;
        var output = new ArrayBufferWriter<byte>(4096);
        encode(Codec, output);
        Codec.WriteBarrier(output);
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

            while (drain && _tls is null && _socket.Available > 0 && ReceiveOnce() > 0)
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
            received = _tls is null ? _socket.Receive(_in, _end, _in.Length - _end, SocketFlags.None, out error) : ReceiveTls(out error);
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

    private int ReceiveTls(out SocketError error)
    {
        try
        {
            error = SocketError.Success;
            return _tls!.Read(_in, _end, _in.Length - _end);
        }
        catch (IOException ex) when (ex.InnerException is SocketException socket)
        {
            error = socket.SocketErrorCode;
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
        _tls?.Dispose();
        _socket.Dispose();
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

    void IWireEvents.OnMessage(int sid, int payloadLength) => Handler.OnMessage(sid, payloadLength);

    void IWireEvents.OnRequest(ReadOnlySpan<byte> replyTo, int payloadLength) => Handler.OnRequest(this, replyTo, payloadLength);

    void IWireEvents.OnReply(uint id, bool ok) => Handler.OnReply(id, ok);

    private void SendLocked(ReadOnlySpan<byte> bytes)
    {
        if (_tls is not null)
        {
            _tls.Write(bytes);
        }

        while (_tls is null && !bytes.IsEmpty)
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
