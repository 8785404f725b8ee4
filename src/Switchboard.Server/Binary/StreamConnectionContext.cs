using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace Switchboard.Server;

/// <summary>A connection over any duplex <see cref="Stream"/> (a serial port, a WebSocket), shaped like Kestrel's, so
/// the same <see cref="BinaryPeer"/> serves it. Completing its output runs the carrier's own end of output (a WebSocket's
/// close frame), as completing a socket's sends FIN.</summary>
internal sealed class StreamConnectionContext : ConnectionContext
{
    private readonly Stream _stream;
    private readonly CancellationTokenSource _closed = new();

    /// <param name="name">A name for logs.</param>
    /// <param name="stream">The carrier.</param>
    /// <param name="endOutput">Ends the carrier's output after the broker's last bytes.</param>
    /// <param name="carrier">The connection the stream runs over (a WebSocket's HTTP connection): its remote address
    /// counts against the per-address limits and failure throttle, and its TLS client certificate can prove an identity.</param>
    public StreamConnectionContext(string name, Stream stream, Func<CancellationToken, Task>? endOutput = null, Microsoft.AspNetCore.Http.ConnectionInfo? carrier = null)
    {
        _stream = stream;
        ConnectionId = name;
        if (carrier is not null)
        {
            RemoteEndPoint = carrier.RemoteIpAddress is { } address ? new System.Net.IPEndPoint(address, carrier.RemotePort) : null;
            LocalEndPoint = carrier.LocalIpAddress is { } local ? new System.Net.IPEndPoint(local, carrier.LocalPort) : null;
            if (carrier.ClientCertificate is { } certificate)
            {
                Features.Set<ITlsConnectionFeature>(new CarriedCertificate(certificate));
            }
        }

        var output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        Transport = new DuplexPipe(
            PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true)),
            endOutput is null ? output : new EndingPipeWriter(output, endOutput));
        ConnectionClosed = _closed.Token;
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport { get; set; }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _closed.Cancel();
        _stream.Dispose();
    }

    public override async ValueTask DisposeAsync()
    {
        await _closed.CancelAsync();
        await _stream.DisposeAsync();
        _closed.Dispose();
    }

    /// <summary>The client certificate the carrier's TLS handshake verified.</summary>
    private sealed class CarriedCertificate(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate) : ITlsConnectionFeature
    {
        public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate { get; set; } = certificate;

        public Task<System.Security.Cryptography.X509Certificates.X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult(ClientCertificate);
    }

    /// <summary>A pipe writer that, once completed and flushed, ends the carrier's output.</summary>
    private sealed class EndingPipeWriter(PipeWriter inner, Func<CancellationToken, Task> endOutput) : PipeWriter
    {
        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            await inner.CompleteAsync(exception);
            if (exception is null)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await endOutput(timeout.Token);
            }
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
