using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Switchboard.Server;
using Switchboard.Tests.Support;
using Switchboard.Wire;

namespace Switchboard.Tests.Broker;

/// <summary>
/// A real broker fed bad bytes over raw sockets: every protocol violation gets a fatal ERROR frame with its code, then a
/// clean close (FIN, not RST); it is counted and logged, and costs the well-behaved clients on the same broker nothing
/// (no message lost). Refusals that are not violations (a bad name, someone else's sender) keep the connection.
/// </summary>
public sealed class HostileInputTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly (string Attack, string Code)[] AllAttacks =
    [
        ("negative length", ErrorCodes.MalformedFrame),
        ("negative length after HELLO", ErrorCodes.MalformedFrame),
        ("oversize length", ErrorCodes.FrameTooLarge),
        ("oversize length after HELLO", ErrorCodes.FrameTooLarge),
        ("length below 2", ErrorCodes.MalformedFrame),
        ("zero length after HELLO", ErrorCodes.MalformedFrame),
        ("HTTP request", ErrorCodes.FrameTooLarge),
        ("unknown frame type after HELLO", ErrorCodes.UnknownFrame),
        ("broker frame type from a client", ErrorCodes.UnexpectedFrame),
        ("frame before HELLO", ErrorCodes.UnexpectedFrame),
        ("second HELLO", ErrorCodes.UnexpectedFrame),
        ("wrong protocol version", ErrorCodes.UnsupportedVersion),
        ("truncated ADD_SENDER", ErrorCodes.MalformedFrame),
        ("bytes left over in UNLISTEN", ErrorCodes.MalformedFrame),
        ("bytes left over in FLUSH", ErrorCodes.MalformedFrame),
        ("bytes left over in PING", ErrorCodes.MalformedFrame),
        ("bad checksum", ErrorCodes.BadChecksum),
    ];

    /// <summary>Every attack over every carrier the broker listens on: the broker's side is one codec whatever carries it.</summary>
    public static TheoryData<string, string, Carrier> Attacks
    {
        get
        {
            var data = new TheoryData<string, string, Carrier>();
            foreach (var carrier in Enum.GetValues<Carrier>())
            {
                foreach (var (attack, code) in AllAttacks)
                {
                    data.Add(attack, code, carrier);
                }
            }

            return data;
        }
    }

    /// <summary>How the raw peer reaches the broker.</summary>
    public enum Carrier
    {
        Tcp,
        Unix,
        WebSocket,
    }

    [Theory]
    [MemberData(nameof(Attacks))]
    public async Task A_protocol_violation_gets_a_fatal_error_and_a_closed_socket_while_other_clients_lose_nothing(string attack, string code, Carrier carrier)
    {
        await using var bed = await TestBed.StartAsync();
        await bed.TriggerAsync(0, 50);

        var pump = bed.TriggerAsync(50, 150);
        await using (var raw = await RawConnection.ConnectAsync(bed.Host, carrier))
        {
            await RunAttackAsync(raw, attack);
            AssertFatalError(attack, code, await raw.ExpectErrorThenCloseAsync());
        }

        await pump.WithinAsync("the triggers during the attack");
        await bed.TriggerAsync(150, 200);
        await bed.ExpectAllAsync(200);
        Assert.Equal(1, bed.Host.Broker.ProtocolErrors);
        Assert.Equal([code], bed.Log.Violations);
    }

    [Fact]
    public async Task Every_attack_at_once_is_counted_and_the_well_behaved_clients_lose_nothing()
    {
        await using var bed = await TestBed.StartAsync();
        var pump = bed.TriggerAsync(0, 300);
        await Task.WhenAll(AllAttacks.Select(async a =>
        {
            await using var raw = await RawConnection.ConnectAsync(bed.Host);
            await RunAttackAsync(raw, a.Attack);
            AssertFatalError(a.Attack, a.Code, await raw.ExpectErrorThenCloseAsync());
        })).WithinAsync("every attack");

        await pump.WithinAsync("the triggers during the attacks");
        await bed.TriggerAsync(300, 400);
        await bed.ExpectAllAsync(400);
        Assert.Equal(AllAttacks.Length, bed.Host.Broker.ProtocolErrors);
        Assert.Equal(AllAttacks.Select(a => a.Code).Order(StringComparer.Ordinal), bed.Log.Violations.Order(StringComparer.Ordinal));
    }

    private static void AssertFatalError(string attack, string code, ErrorFrame error)
    {
        Assert.True(error.Code == code, $"{attack}: expected {code}, got {error.Code} ({error.Message}).");
        Assert.True(error.Fatal, $"{attack}: the error should be fatal ({error.Code}: {error.Message}).");
        Assert.Equal(0u, error.Correlation);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public async Task Valid_frames_sent_one_byte_per_write_work()
    {
        await using var bed = await TestBed.StartAsync();
        await using var rawEvents = await bed.Listening.ListenAsync("raw", "tick", cancellationToken: Ct);
        await using var raw = await RawConnection.ConnectAsync(bed.Host);
        var frames = Build(w =>
        {
            Frames.Hello(w, false, Protocol.Version, "byte-by-byte", null, 0, 5000);
            Frames.AddSender(w, false, 1, "raw", ["tick"], [], false, null, default);
            Frames.Trigger(w, false, "raw", "tick", 0, MessageHeaders.Of(("k", "v")), Payload.Utf8("slowly"));
            Frames.Correlated(w, false, FrameType.Flush, 2);
        });

        var pump = bed.TriggerAsync(0, 100);
        await raw.SendOneByteAtATimeAsync(frames);

        var welcome = await raw.ExpectFrameAsync(FrameType.Welcome);
        Assert.Equal(Protocol.Version, new SpanReader(welcome, FrameType.Welcome).U16("version"));
        Assert.Equal(1u, await raw.ExpectOkAsync());
        Assert.Equal(2u, await raw.ExpectOkAsync());

        var message = await rawEvents.NextAsync();
        Assert.Equal("raw", message.Sender);
        Assert.Equal("tick", message.Event);
        Assert.Equal("v", message.Headers["k"]);
        Assert.Equal("slowly", message.Data.ToString());

        await pump.WithinAsync("the triggers alongside");
        await bed.ExpectAllAsync(100);
        Assert.Equal(0, bed.Host.Broker.ProtocolErrors);
        Assert.Empty(bed.Log.Violations);
    }

    [Fact]
    public async Task A_refusal_is_not_fatal_and_the_connection_goes_on()
    {
        await using var bed = await TestBed.StartAsync();
        await using var raw = await RawConnection.ConnectAsync(bed.Host);
        await raw.HelloAsync();

        await raw.SendAsync(Build(w => Frames.AddSender(w, false, 1, "bad name", ["tick"], [], false, null, default)));
        var refused = await raw.ExpectErrorAsync();
        Assert.Equal(ErrorCodes.InvalidName, refused.Code);
        Assert.False(refused.Fatal);
        Assert.Equal(1u, refused.Correlation);
        Assert.Contains("'bad name'", refused.Message, StringComparison.Ordinal);

        await raw.SendAsync(Build(w => Frames.AddSender(w, false, 2, "good", ["tick"], [], false, null, default)));
        Assert.Equal(2u, await raw.ExpectOkAsync());

        // Triggering a sender this connection does not own is refused too, without a correlation, and still not fatal.
        await raw.SendAsync(Build(w => Frames.Trigger(w, false, "s", "e", 0, null, default)));
        var foreign = await raw.ExpectErrorAsync();
        Assert.Equal("unknown_sender", foreign.Code);
        Assert.False(foreign.Fatal);
        Assert.Equal(0u, foreign.Correlation);

        await raw.SendAsync(Build(w => Frames.Correlated(w, false, FrameType.Flush, 3)));
        Assert.Equal(3u, await raw.ExpectOkAsync());
        Assert.Equal(0, bed.Host.Broker.ProtocolErrors);
        Assert.Empty(bed.Log.Violations);

        await bed.TriggerAsync(0, 10);
        await bed.ExpectAllAsync(10);
    }

    [Fact]
    public async Task A_declaration_of_too_many_events_is_refused_by_its_count_and_the_connection_goes_on()
    {
        await using var bed = await TestBed.StartAsync();
        await using var raw = await RawConnection.ConnectAsync(bed.Host);
        await raw.HelloAsync();
        var tooMany = Enumerable.Range(0, NameRules.MaxDeclaredEvents + 1).Select(i => $"e{i}").ToArray();

        await raw.SendAsync(Build(w => Frames.AddSender(w, false, 1, "bomb", tooMany, [], false, null, default)));
        var refused = await raw.ExpectErrorAsync();
        Assert.Equal(ErrorCodes.InvalidArgument, refused.Code);
        Assert.False(refused.Fatal);
        Assert.Equal(1u, refused.Correlation);
        Assert.Contains($"declares {tooMany.Length} events; a sender may declare at most {NameRules.MaxDeclaredEvents}", refused.Message, StringComparison.Ordinal);

        // The limit itself is accepted, and the frame after the refused one was read from the right place.
        var atLimit = tooMany[..NameRules.MaxDeclaredEvents];
        await raw.SendAsync(Build(w => Frames.AddSender(w, false, 2, "large", atLimit, [], false, null, default)));
        Assert.Equal(2u, await raw.ExpectOkAsync());
        Assert.Equal(0, bed.Host.Broker.ProtocolErrors);
    }

    [Fact]
    public async Task The_broker_itself_refuses_what_a_client_library_would_have_caught_first()
    {
        await using var bed = await TestBed.StartAsync();
        await using var raw = await RawConnection.ConnectAsync(bed.Host);
        await raw.HelloAsync();

        async Task<ErrorFrame> RefusedAsync(Action<IBufferWriter<byte>> frame)
        {
            await raw.SendAsync(Build(frame));
            var error = await raw.ExpectErrorAsync();
            Assert.False(error.Fatal, $"{error.Code} must not be fatal");
            return error;
        }

        Assert.Equal(ErrorCodes.ReservedName, (await RefusedAsync(w => Frames.AddSender(w, false, 1, "liar", ["#connect"], [], false, null, default))).Code);
        Assert.Equal(ErrorCodes.UndeclaredEvent, (await RefusedAsync(w => Frames.AddSender(w, false, 2, "willful", ["tick"], [], false, "#gone", default))).Code);
        Assert.Equal(ErrorCodes.InvalidName, (await RefusedAsync(w => Frames.AddSender(w, false, 3, "wild", ["readings.*"], [], false, null, default))).Code);
        string[] tooMany = [.. Enumerable.Range(0, NameRules.MaxDeclaredEvents + 1).Select(i => $"#e{i}")];
        Assert.Equal(ErrorCodes.InvalidArgument, (await RefusedAsync(w => Frames.AddSender(w, false, 4, "greedy", tooMany, [], false, null, default))).Code);
        Assert.Equal(ErrorCodes.TargetedNeedsSender, (await RefusedAsync(w => Frames.Listen(w, false, 5, 50, null, "tick", null, false))).Code);
        Assert.Equal(ErrorCodes.UnknownProducer, (await RefusedAsync(w => Frames.ProducerTopic(w, false, 6, "nobody", true, "t"))).Code);

        await raw.SendAsync(Build(w => Frames.AddSender(w, false, 7, "rooms", ["#rooms.*"], [], false, null, default)));
        Assert.Equal(7u, await raw.ExpectOkAsync());
        var undeclared = await RefusedAsync(w => Frames.Trigger(w, false, "rooms", "#halls.a", 0, null, default));
        Assert.Equal((ErrorCodes.UndeclaredEvent, 0u), (undeclared.Code, undeclared.Correlation));
        Assert.Equal(ErrorCodes.InvalidName, (await RefusedAsync(w => Frames.Trigger(w, false, "rooms", "#rooms.*", 0, null, default))).Code);

        await raw.SendAsync(Build(w => Frames.Correlated(w, false, FrameType.Flush, 8)));
        Assert.Equal(8u, await raw.ExpectOkAsync());
        Assert.Equal(0, bed.Host.Broker.ProtocolErrors);
        await bed.TriggerAsync(0, 10);
        await bed.ExpectAllAsync(10);
    }

    /// <summary>Sends the bad bytes of <paramref name="attack"/> (after a proper HELLO when its name says so).</summary>
    private static async Task RunAttackAsync(RawConnection raw, string attack)
    {
        if (attack.EndsWith("after HELLO", StringComparison.Ordinal) || attack is "broker frame type from a client" or "second HELLO" or "truncated ADD_SENDER" or "bytes left over in UNLISTEN" or "bytes left over in FLUSH" or "bytes left over in PING" or "bad checksum")
        {
            await raw.HelloAsync();
        }

        byte[] bytes = attack switch
        {
            "negative length" => Length(-1),
            "negative length after HELLO" => Length(int.MinValue),
            "oversize length" => Length(0x7FFFFFFF),
            "oversize length after HELLO" => Length(Protocol.DefaultMaxFrameSize + 1),
            "length below 2" => [.. Length(1), (byte)FrameType.Ping],
            "zero length after HELLO" => Length(0),
            "HTTP request" => Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\n\r\n"),
            "unknown frame type after HELLO" => [.. Length(2), 0x7f, 0],
            "broker frame type from a client" => Build(w => Frames.Event(w, false, 1, "s", "e", null, default)),
            "frame before HELLO" => Build(w => Frames.AddSender(w, false, 1, "early", ["tick"], [], false, null, default)),
            "second HELLO" => Build(w => Frames.Hello(w, false, Protocol.Version, "again", null, 0, 5000)),
            "wrong protocol version" => Build(w => Frames.Hello(w, false, Protocol.Version + 1, "future", null, 0, 5000)),
            "truncated ADD_SENDER" => Truncate(Build(w => Frames.AddSender(w, false, 1, "cut", ["tick", "tock"], [], false, null, default)), 7),
            "bytes left over in UNLISTEN" => [.. Length(11), (byte)FrameType.Unlisten, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0xee],
            "bytes left over in FLUSH" => [.. Length(7), (byte)FrameType.Flush, 0, 1, 0, 0, 0, 0xee],
            "bytes left over in PING" => [.. Length(11), (byte)FrameType.Ping, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0xee],
            "bad checksum" => Corrupt(Build(w => Frames.AddSender(w, true, 1, "crc", ["tick"], [], false, null, default))),
            _ => throw new ArgumentOutOfRangeException(nameof(attack), attack, "unknown attack"),
        };
        await raw.SendAsync(bytes);
    }

    private static byte[] Length(int length)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, length);
        return bytes;
    }

    /// <summary>A whole frame whose body lost its last <paramref name="cut"/> bytes (the length says so too).</summary>
    private static byte[] Truncate(byte[] frame, int cut)
    {
        var bytes = frame[..^cut];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, bytes.Length - 4);
        return bytes;
    }

    private static byte[] Corrupt(byte[] frame)
    {
        frame[Protocol.HeaderSize + 6] ^= 0x20;
        return frame;
    }

    private static byte[] Build(Action<IBufferWriter<byte>> write)
    {
        var output = new ArrayBufferWriter<byte>();
        write(output);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>A broker with two well-behaved clients: one sending ("s", "e") with an ordinal payload, one reading it as a queue.</summary>
    private sealed class TestBed : IAsyncDisposable
    {
        private readonly ISender _sender;
        private readonly IListenerQueue _queue;
        private readonly BusClient _sending;

        private TestBed(BrokerHost host, LogRecorder log, BusClient sending, ISender sender, BusClient listening, IListenerQueue queue)
        {
            Host = host;
            Log = log;
            _sending = sending;
            _sender = sender;
            Listening = listening;
            _queue = queue;
        }

        public BrokerHost Host { get; }

        /// <summary>The codes of the protocol violations the broker logged, and anything it logged as an error.</summary>
        public LogRecorder Log { get; }

        public BusClient Listening { get; }

        public static async Task<TestBed> StartAsync()
        {
            var log = new LogRecorder();
            var unix = Path.Combine(Path.GetTempPath(), $"sb-hostile-{Guid.NewGuid():N}.sock");
            var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, UnixSocketPath = unix, HttpPort = 0 }, logging: builder => builder.AddProvider(log), cancellationToken: Ct);
            var sending = await BusClient.ConnectAsync(host.TcpAddress!, new BusClientOptions { ClientName = "well-behaved-sender" }, Ct);
            var sender = await sending.AddSenderAsync("s", ["e"], cancellationToken: Ct);
            var listening = await BusClient.ConnectAsync(host.TcpAddress!, new BusClientOptions { ClientName = "well-behaved-listener" }, Ct);
            var queue = await listening.ListenAsync("s", "e", cancellationToken: Ct);
            return new TestBed(host, log, sending, sender, listening, queue);
        }

        /// <summary>Triggers the numbers from <paramref name="from"/> up to (not including) <paramref name="to"/>, letting other work interleave.</summary>
        public async Task TriggerAsync(int from, int to)
        {
            for (var i = from; i < to; i++)
            {
                await _sender.TriggerAsync("e", Payload.Json(i), cancellationToken: Ct);
                if (i % 10 == 0)
                {
                    await Task.Yield();
                }
            }
        }

        /// <summary>Every number below <paramref name="count"/> arrives, in order, and nothing was dropped anywhere.</summary>
        public async Task ExpectAllAsync(int count)
        {
            for (var i = 0; i < count; i++)
            {
                var message = await _queue.NextAsync();
                Assert.Equal("s", message.Sender);
                Assert.Equal("e", message.Event);
                Assert.Equal(i, message.Data.As<int>());
            }

            Assert.Equal(0, _queue.Dropped);
            Assert.Equal(0, _sending.Counters.OfflineDrops);
            Assert.True(_sending.IsConnected, "The well-behaved sender lost its connection.");
            Assert.True(Listening.IsConnected, "The well-behaved listener lost its connection.");
            Assert.Empty(Log.Errors);
        }

        public async ValueTask DisposeAsync()
        {
            await _queue.DisposeAsync();
            await _sender.DisposeAsync();
            await Listening.DisposeAsync();
            await _sending.DisposeAsync();
            await Host.DisposeAsync();
        }
    }

    /// <summary>Records the broker's protocol-violation log entries (their code) and anything logged at Error or above.</summary>
    private sealed class LogRecorder : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> _violations = new();
        private readonly ConcurrentQueue<string> _errors = new();

        public IReadOnlyCollection<string> Violations => _violations;

        public IReadOnlyCollection<string> Errors => _errors;

        public ILogger CreateLogger(string categoryName) => new Recorder(this);

        public void Dispose()
        {
        }

        private sealed class Recorder(LogRecorder owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (eventId.Name == "ProtocolViolation" && state is IReadOnlyList<KeyValuePair<string, object?>> fields)
                {
                    owner._violations.Enqueue(fields.FirstOrDefault(f => f.Key == "Code").Value as string ?? "(no code)");
                }
                else if (logLevel >= LogLevel.Error)
                {
                    owner._errors.Enqueue($"{formatter(state, exception)} {exception}");
                }
            }
        }
    }

    /// <summary>An ERROR frame's fields.</summary>
    private sealed record ErrorFrame(uint Correlation, bool Fatal, string Code, string Message);

    /// <summary>A raw carrier (a TCP or Unix socket, or a WebSocket) speaking (or not) the protocol, reading replies
    /// with deadlines.</summary>
    private sealed class RawConnection : IAsyncDisposable
    {
        private readonly Stream _stream;
        private readonly FrameParser _parser = new();
        private readonly byte[] _receive = new byte[64 * 1024];
        private byte[] _pending = [];

        private RawConnection(Stream stream) => _stream = stream;

        public static async Task<RawConnection> ConnectAsync(BrokerHost host, Carrier carrier = Carrier.Tcp)
        {
            switch (carrier)
            {
                case Carrier.WebSocket:
                    var ws = new System.Net.WebSockets.ClientWebSocket();
                    await ws.ConnectAsync(new Uri(host.WebSocketAddress!), Ct);
                    return new RawConnection(System.Net.WebSockets.WebSocketStream.Create(ws, System.Net.WebSockets.WebSocketMessageType.Binary, ownsWebSocket: true));
                case Carrier.Unix:
                    var unix = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await unix.ConnectAsync(new UnixDomainSocketEndPoint(new Uri(host.UnixAddress!).AbsolutePath), Ct);
                    return new RawConnection(new NetworkStream(unix, ownsSocket: true));
                default:
                    var port = new Uri(host.TcpAddress!).Port;
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), Ct);
                    return new RawConnection(new NetworkStream(socket, ownsSocket: true));
            }
        }

        public async Task SendAsync(byte[] bytes)
        {
            await _stream.WriteAsync(bytes, Ct);
            await _stream.FlushAsync(Ct);
        }

        public async Task SendOneByteAtATimeAsync(byte[] bytes)
        {
            for (var i = 0; i < bytes.Length; i++)
            {
                await _stream.WriteAsync(bytes.AsMemory(i, 1), Ct);
                await _stream.FlushAsync(Ct);
            }
        }

        public async Task HelloAsync()
        {
            await SendAsync(Build(w => Frames.Hello(w, false, Protocol.Version, "raw", null, 0, 5000)));
            var body = await ExpectFrameAsync(FrameType.Welcome);
            var r = new SpanReader(body, FrameType.Welcome);
            Assert.Equal(Protocol.Version, r.U16("version"));
        }

        /// <summary>The next frame other than a heartbeat; fails if the socket closes or nothing comes in time.</summary>
        public async Task<(FrameType Type, byte[] Body)> NextFrameAsync()
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            deadline.CancelAfter(Wait.Timeout);
            while (true)
            {
                if (TryTake(out var frame))
                {
                    if (frame.Type is FrameType.Ping or FrameType.Pong)
                    {
                        continue;
                    }

                    return frame;
                }

                int read;
                try
                {
                    read = await _stream.ReadAsync(_receive, deadline.Token);
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested && !Ct.IsCancellationRequested)
                {
                    Assert.Fail($"No frame from the broker within {Wait.Timeout.TotalSeconds} s.");
                    throw;
                }

                Assert.True(read > 0, "The broker closed the socket before sending the expected frame.");
                _pending = [.. _pending, .. _receive.AsSpan(0, read)];
            }
        }

        public async Task<byte[]> ExpectFrameAsync(FrameType expected)
        {
            var (type, body) = await NextFrameAsync();
            Assert.True(type == expected, $"Expected {expected}, got {type}{(type == FrameType.Error ? ": " + ReadError(body) : "")}.");
            return body;
        }

        public async Task<uint> ExpectOkAsync()
        {
            var body = await ExpectFrameAsync(FrameType.Ok);
            var r = new SpanReader(body, FrameType.Ok);
            var correlation = r.U32("correlation");
            r.String("detail");
            r.End();
            return correlation;
        }

        public async Task<ErrorFrame> ExpectErrorAsync() => ReadError(await ExpectFrameAsync(FrameType.Error));

        /// <summary>
        /// Expects exactly one ERROR frame (heartbeats aside) and then the broker's clean close: a read that returns 0.
        /// A reset instead of the close fails (it can discard the ERROR on the way).
        /// </summary>
        public async Task<ErrorFrame> ExpectErrorThenCloseAsync()
        {
            ErrorFrame? error = null;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            deadline.CancelAfter(Wait.Timeout);
            while (true)
            {
                while (TryTake(out var frame))
                {
                    if (frame.Type is FrameType.Ping or FrameType.Pong)
                    {
                        continue;
                    }

                    Assert.True(frame.Type == FrameType.Error && error is null, $"Expected one ERROR frame and then the close, got a {frame.Type} frame.");
                    error = ReadError(frame.Body);
                }

                int read;
                try
                {
                    read = await _stream.ReadAsync(_receive, deadline.Token);
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested && !Ct.IsCancellationRequested)
                {
                    Assert.Fail(error is null
                        ? $"No ERROR frame from the broker within {Wait.Timeout.TotalSeconds} s."
                        : $"The broker did not close the socket within {Wait.Timeout.TotalSeconds} s after {error.Code}.");
                    throw;
                }
                catch (IOException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset } or System.Net.WebSockets.WebSocketException)
                {
                    Assert.Fail(error is null
                        ? "The broker reset the connection without sending an ERROR frame."
                        : $"The broker reset the connection after {error.Code} instead of closing it cleanly.");
                    throw;
                }

                if (read == 0)
                {
                    Assert.True(error is not null, "The broker closed the socket without sending an ERROR frame.");
                    return error;
                }

                _pending = [.. _pending, .. _receive.AsSpan(0, read)];
            }
        }

        private bool TryTake(out (FrameType Type, byte[] Body) frame)
        {
            var buffer = new ReadOnlySequence<byte>(_pending);
            if (_parser.TryRead(ref buffer, out var type, out var body))
            {
                frame = (type, body.ToArray());
                _pending = buffer.ToArray();
                return true;
            }

            frame = default;
            return false;
        }

        private static ErrorFrame ReadError(byte[] body)
        {
            var r = new SpanReader(body, FrameType.Error);
            var error = new ErrorFrame(r.U32("correlation"), r.U8("fatal") != 0, r.RequiredString("code"), r.String("message")!);
            r.End();
            return error;
        }

        public ValueTask DisposeAsync() => _stream.DisposeAsync();
    }
}
