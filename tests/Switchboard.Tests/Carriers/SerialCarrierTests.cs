using System.Diagnostics;
using System.IO.Ports;
using System.Text.RegularExpressions;
using Switchboard.Server;
using Switchboard.Tests.Support;

namespace Switchboard.Tests.Carriers;

/// <summary>
/// The binary protocol over a serial line (seed 001's UART carrier), end to end over a real pseudo-terminal pair made
/// by socat, with CRC-32C on every frame; bytes corrupted on the line are caught by the CRC, counted, and the link goes on.
/// </summary>
public sealed partial class SerialCarrierTests : IAsyncLifetime
{
    private Process? _socat;
    private string _brokerSide = "";
    private string _clientSide = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists("/usr/bin/socat"))
        {
            throw new InvalidOperationException("socat is missing: tests/run.sh installs it (apt-get install socat).");
        }

        _socat = Process.Start(new ProcessStartInfo("socat", "-d -d pty,raw,echo=0 pty,raw,echo=0") { RedirectStandardError = true, UseShellExecute = false })!;
        var ptys = new List<string>();
        using var timeout = new CancellationTokenSource(Wait.Timeout);
        while (ptys.Count < 2)
        {
            var line = await _socat.StandardError.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("socat exited before opening its ptys.");
            if (PtyLine().Match(line) is { Success: true } match)
            {
                ptys.Add(match.Groups[1].Value);
            }
        }

        (_brokerSide, _clientSide) = (ptys[0], ptys[1]);
        _ = _socat.StandardError.ReadToEndAsync(CancellationToken.None); // keep its pipe drained
    }

    [GeneratedRegex(@"PTY is (\S+)")]
    private static partial Regex PtyLine();

    [Fact]
    public async Task Events_and_requests_cross_a_serial_line_and_corrupt_frames_are_rejected_counted_and_survived()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = null }, cancellationToken: Ct);
        await using var received = await host.Broker.Bus.ListenAsync("uart-device", "#reading", new ListenerOptions { Capacity = 1000 }, Ct);
        using var brokerPort = new SerialPort(_brokerSide, 115_200);
        brokerPort.Open();
        var serving = host.Broker.ServeAsync("uart", brokerPort.BaseStream);

        var line = new CorruptingStream();
        var address = BusAddress.FromStream($"serial://{_clientSide}", _ =>
        {
            var port = new SerialPort(_clientSide, 115_200);
            port.Open();
            line.Inner = port.BaseStream;
            return ValueTask.FromResult<Stream>(line);
        });
        await using var device = await BusClient.ConnectAsync(address, new BusClientOptions { ClientName = "device" }, Ct);
        var sender = await device.AddSenderAsync("uart-device", ["#reading"], new() { ["status"] = (_, _) => ValueTask.FromResult(Payload.Utf8("all good")) }, cancellationToken: Ct);

        for (var i = 0; i < 5; i++)
        {
            await sender.TriggerAsync("#reading", Payload.Json(i), cancellationToken: Ct);
            await device.FlushAsync(Ct);
        }

        line.CorruptNextWrite = true; // one trigger gets a flipped byte on the wire
        await sender.TriggerAsync("#reading", Payload.Json(99), cancellationToken: Ct);
        await Wait.UntilAsync(() => !line.CorruptNextWrite, "the corrupted frame went out");
        for (var i = 5; i < 10; i++)
        {
            await sender.TriggerAsync("#reading", Payload.Json(i), cancellationToken: Ct);
        }

        var readings = new List<int>();
        for (var i = 0; i < 10; i++)
        {
            readings.Add((await received.NextAsync()).As<int>());
        }

        Assert.Equal(Enumerable.Range(0, 10), readings);
        Assert.Equal(1, host.Broker.Counters.CorruptFrames);
        Assert.Equal("all good", (await host.Broker.Bus.RequestAsync("uart-device", "status", cancellationToken: Ct)).ToString());
        await device.DisposeAsync();
        await serving.WithinAsync("the broker's serial session ending after the device left");
    }

    [Fact]
    public async Task A_client_given_a_serial_address_string_talks_to_the_broker_over_the_line()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = null }, cancellationToken: Ct);
        await using var received = await host.Broker.Bus.ListenAsync("uart-device", "#reading", cancellationToken: Ct);
        using var brokerPort = new SerialPort(_brokerSide, 115_200);
        brokerPort.Open();
        var serving = host.Broker.ServeAsync("uart", brokerPort.BaseStream);

        // The address a user writes: BusAddress parses it, opens the port 8N1 at the baud given, and turns CRCs on.
        await using (var device = await BusClient.ConnectAsync($"serial://{_clientSide}?baud=115200", new BusClientOptions { ClientName = "device" }, Ct))
        {
            var sender = await device.AddSenderAsync("uart-device", ["#reading"], new() { ["status"] = (_, _) => ValueTask.FromResult(Payload.Utf8("ok")) }, cancellationToken: Ct);
            await sender.TriggerAsync("#reading", Payload.Json(42), cancellationToken: Ct);
            Assert.Equal(42, (await received.NextAsync()).As<int>());
            Assert.Equal("ok", (await host.Broker.Bus.RequestAsync("uart-device", "status", cancellationToken: Ct)).ToString());
        }

        await serving.WithinAsync("the broker's serial session ending after the device left");
    }

    public ValueTask DisposeAsync()
    {
        if (_socat is { HasExited: false })
        {
            _socat.Kill();
        }

        _socat?.Dispose();
        return default;
    }

    /// <summary>The line between the device and the broker: flips one bit of a payload byte when told, like noise on a UART.</summary>
    private sealed class CorruptingStream : Stream
    {
        private volatile bool _corruptNext;

        public Stream Inner { get; set; } = Null;

        public bool CorruptNextWrite
        {
            get => _corruptNext;
            set => _corruptNext = value;
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => Inner.ReadAsync(buffer, cancellationToken);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_corruptNext && buffer.Length > 12)
            {
                var copy = buffer.ToArray();
                copy[^6] ^= 0x10; // inside the last frame's body, before its CRC: the length field stays intact
                buffer = copy;
                _corruptNext = false;
            }

            await Inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Inner.FlushAsync(cancellationToken);

        public override void Flush() => Inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => Inner.Read(buffer, offset, count);

        public override void Write(byte[] buffer, int offset, int count) => Inner.Write(buffer, offset, count);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
