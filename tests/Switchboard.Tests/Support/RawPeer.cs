using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Switchboard.Wire;

namespace Switchboard.Tests.Support;

/// <summary>A misbehaving peer on a raw socket: speaks the protocol by hand, and stops reading or writing when told.</summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private readonly Socket _socket;
    private uint _correlation;

    private RawPeer(Socket socket) => _socket = socket;

    public Socket Socket => _socket;

    public static async Task<RawPeer> ConnectAsync(string address, CancellationToken cancellationToken)
    {
        var uri = new Uri(address);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(uri.Host), uri.Port), cancellationToken);
        return new RawPeer(socket);
    }

    public async Task SendAsync(Action<IBufferWriter<byte>> write, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        await _socket.SendAsync(buffer.WrittenMemory, cancellationToken);
    }

    public Task HelloAsync(CancellationToken cancellationToken) =>
        SendAsync(b => Frames.Hello(b, false, Protocol.Version, "raw-peer", null, 0, 60_000), cancellationToken);

    public Task ListenAsync(string? sender, string? pattern, CancellationToken cancellationToken) =>
        SendAsync(b => Frames.Listen(b, false, ++_correlation, _correlation, sender, pattern, null, false), cancellationToken);

    public Task AddSenderAsync(string name, string[] events, string? will, Payload willData, CancellationToken cancellationToken) =>
        SendAsync(b => Frames.AddSender(b, false, ++_correlation, name, events, [], false, will, willData), cancellationToken);

    /// <summary>Reads frames until an ERROR arrives (other frames are skipped) and returns its code and message.</summary>
    public async Task<(string Code, string Message)> ReadErrorAsync(CancellationToken cancellationToken)
    {
        var error = await ReadErrorFrameAsync(cancellationToken);
        return (error.Code, error.Message);
    }

    /// <summary>Reads frames until an ERROR arrives (other frames are skipped) and returns it whole.</summary>
    public async Task<ErrorFrame> ReadErrorFrameAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Wait.Timeout);
        var parser = new FrameParser(Protocol.DefaultMaxFrameSize);
        var received = new ArrayBufferWriter<byte>();
        var buffer = new byte[4096];
        while (true)
        {
            var read = await _socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (read == 0)
            {
                throw new InvalidOperationException("The broker closed the connection without an ERROR frame.");
            }

            received.Write(buffer.AsSpan(0, read));
            var pending = new ReadOnlySequence<byte>(received.WrittenMemory);
            while (parser.TryReadFrame(ref pending, out var type, out var body))
            {
                if (type == FrameType.Error)
                {
                    return Frames.ReadError(body.Span);
                }
            }
        }
    }

    /// <summary>Reads until the broker closes the connection (or resets it); false if it stays open past the timeout.</summary>
    public async Task<bool> ClosedByPeerAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (read == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return default;
    }
}
