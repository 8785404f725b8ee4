using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Switchboard.Server;
using Switchboard.Wire;

namespace Switchboard.Benchmarks;

/// <summary>
/// The broker's steady state without sockets: one connection (over in-memory pipes) that registered a sender and a
/// listener for its channel event sends batches of TRIGGER frames; the broker parses them, routes them and writes an
/// EVENT frame per message back. The memory diagnoser counts what every thread allocated, so "Allocated" is the
/// broker's cost per 1 000 messages. The baseline copies the same bytes from pipe to pipe.
/// </summary>
[MemoryDiagnoser]
public class BrokerPipelineBenchmarks
{
    private const int Batch = 1_000;
    private readonly Pipe _toBroker = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private readonly Pipe _fromBroker = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private Broker _broker = null!;
    private byte[] _triggers = [];
    private Task _serving = Task.CompletedTask;
    private Task _draining = Task.CompletedTask;
    private long _events;

    [GlobalSetup]
    public async Task Setup()
    {
        _broker = new Broker(new BrokerOptions { Port = null });
        await _broker.StartAsync();
        var context = new PipeConnection(new DuplexPipe(_toBroker.Reader, _fromBroker.Writer));
        _serving = new BinaryPeer(_broker, context).RunAsync();
        _draining = DrainAsync();
        var setup = new ArrayBufferWriter<byte>();
        Frames.Hello(setup, false, Protocol.Version, "bench", null, 0, 60_000);
        Frames.AddSender(setup, false, 1, "pub", ["#bench"], [], false, null, default);
        Frames.Listen(setup, false, 2, 1, null, "#bench", null, false);
        await _toBroker.Writer.WriteAsync(setup.WrittenMemory);
        var batch = new ArrayBufferWriter<byte>();
        var payload = new Payload(new byte[16]);
        for (var i = 0; i < Batch; i++)
        {
            Frames.Trigger(batch, false, "pub", "#bench", 0, null, payload);
        }

        _triggers = batch.WrittenSpan.ToArray();
        SendBatch();
        if (!SpinUntil(Batch, TimeSpan.FromSeconds(10)))
        {
            throw new InvalidOperationException("The broker did not deliver the warm-up batch; nothing to measure.");
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void TriggerToEvent()
    {
        var target = Volatile.Read(ref _events) + Batch;
        SendBatch();
        SpinUntil(target, TimeSpan.FromSeconds(10));
    }

    private void SendBatch()
    {
        var memory = _toBroker.Writer.GetSpan(_triggers.Length);
        _triggers.CopyTo(memory);
        _toBroker.Writer.Advance(_triggers.Length);
        _ = _toBroker.Writer.FlushAsync();
    }

    private bool SpinUntil(long target, TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        var spin = new SpinWait();
        while (Volatile.Read(ref _events) < target)
        {
            if (Environment.TickCount64 > deadline)
            {
                return false;
            }

            spin.SpinOnce();
        }

        return true;
    }

    /// <summary>Counts EVENT frames coming back by their length prefixes (no parsing, no allocation).</summary>
    private async Task DrainAsync()
    {
        var parser = new FrameParser();
        var reader = _fromBroker.Reader;
        while (true)
        {
            var result = await reader.ReadAsync();
            var buffer = result.Buffer;
            var events = Count(parser, ref buffer);
            Interlocked.Add(ref _events, events);
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return;
            }
        }
    }

    private static int Count(FrameParser parser, ref ReadOnlySequence<byte> buffer)
    {
        var events = 0;
        while (parser.TryRead(ref buffer, out var type, out ReadOnlySpan<byte> _))
        {
            if (type == FrameType.Event)
            {
                events++;
            }
        }

        return events;
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _toBroker.Writer.CompleteAsync();
        await _serving;
        await _fromBroker.Writer.CompleteAsync();
        await _draining;
        await _broker.DisposeAsync();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    private sealed class PipeConnection(IDuplexPipe transport) : ConnectionContext
    {
        public override string ConnectionId { get; set; } = "bench";

        public override IFeatureCollection Features { get; } = new FeatureCollection();

        public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

        public override IDuplexPipe Transport { get; set; } = transport;
    }
}
