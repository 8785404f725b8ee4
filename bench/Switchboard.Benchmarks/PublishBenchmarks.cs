using System.Reactive.Subjects;
using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using MediatR;

namespace Switchboard.Benchmarks;

/// <summary>
/// One in-process publish to N synchronous listeners, against invoking the same N delegates directly (the baseline,
/// MessagePipe's benchmark conditions) and against the usual in-process alternatives doing the same fan-out.
/// </summary>
/// <remarks>
/// Targets (DESIGN.md, "Performance bar"): 0 B allocated per publish; to 8 listeners at most 2x the direct
/// 8-delegate baseline; to 1 listener at most 25 ns.
/// </remarks>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class PublishBenchmarks
{
    private const string SenderName = "s";
    private const string EventName = "tick";

    private readonly Payload _payload = new byte[16];
    private LocalBus _bus = null!;
    private ISender _sender = null!;
    private LocalBus _inlineBus = null!;
    private ISender _inlineSender = null!;
    private LocalBus _queueBus = null!;
    private ISender _queueSender = null!;
    private IListenerQueue[] _queues = null!;
    private MessageHandler[] _handlers = null!;
    private Channel<BusMessage>[] _channels = null!;
    private Subject<BusMessage> _subject = null!;
    private IDisposable[] _subscriptions = null!;
    private Mediator _mediator = null!;
    private TickNotification _notification = null!;
    private int _count;

    [Params(1, 8)]
    public int Listeners { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // Switchboard, callback listeners: the same delegates the direct baseline invokes.
        _handlers = new MessageHandler[Listeners];
        for (var i = 0; i < Listeners; i++)
        {
            _handlers[i] = (message, cancellationToken) =>
            {
                _count++;
                return default;
            };
        }

        _bus = new LocalBus();
        _sender = Wait(_bus.AddSenderAsync(SenderName, [EventName]));
        foreach (var handler in _handlers)
        {
            Wait(_bus.ListenAsync(SenderName, EventName, handler));
        }

        // Switchboard, the same callbacks registered with MaxConcurrency = Unbounded: run inline on the publishing
        // thread with no serialization (C# events' and MessagePipe's semantics), so no claim/release per delivery.
        _inlineBus = new LocalBus();
        _inlineSender = Wait(_inlineBus.AddSenderAsync(SenderName, [EventName]));
        var inline = new ListenerOptions { MaxConcurrency = ListenerOptions.Unbounded };
        foreach (var handler in _handlers)
        {
            Wait(_inlineBus.ListenAsync(SenderName, EventName, handler, inline));
        }

        // Switchboard, queue listeners (no callback): trigger, then the application reads each queue.
        _queueBus = new LocalBus();
        _queueSender = Wait(_queueBus.AddSenderAsync(SenderName, [EventName]));
        _queues = new IListenerQueue[Listeners];
        for (var i = 0; i < Listeners; i++)
        {
            _queues[i] = Wait(_queueBus.ListenAsync(SenderName, EventName));
        }

        // Channel<T> hand-off: the same bounded channel a Switchboard listener queues into.
        _channels = new Channel<BusMessage>[Listeners];
        for (var i = 0; i < Listeners; i++)
        {
            _channels[i] = Channel.CreateBounded<BusMessage>(new BoundedChannelOptions(1024) { SingleReader = true });
        }

        // System.Reactive.
        _subject = new Subject<BusMessage>();
        _subscriptions = new IDisposable[Listeners];
        for (var i = 0; i < Listeners; i++)
        {
            _subscriptions[i] = _subject.Subscribe(_ => _count++);
        }

        // MediatR 5.1.0: N notification handlers resolved through a hand-built service factory.
        var counter = new TickCounter();
        var notificationHandlers = new INotificationHandler<TickNotification>[Listeners];
        for (var i = 0; i < Listeners; i++)
        {
            notificationHandlers[i] = new TickHandler(counter);
        }

        var services = new Dictionary<Type, object>
        {
            [typeof(IEnumerable<INotificationHandler<TickNotification>>)] = notificationHandlers,
        };
        _mediator = new Mediator(type => services.TryGetValue(type, out var service) ? service : Array.CreateInstance(type.GetGenericArguments()[0], 0));
        _notification = new TickNotification(new BusMessage(SenderName, EventName, _payload), counter);

        // Correctness: every measured path must reach all N listeners, or there is nothing to measure.
        Check("direct delegates", DirectDelegates);
        Check("Switchboard TriggerAsync (callback listeners)", () => _ = Trigger());
        Check("Switchboard TriggerAsync (inline listeners)", () => _ = TriggerInline());
        Check("Channel<T> TryWrite+TryRead", () => _ = ChannelHandOff());
        Check("Rx Subject.OnNext", RxSubject);
        Check("MediatR Publish", () =>
        {
            MediatRPublish();
            _count += counter.Value;
            counter.Value = 0;
        });
        var read = QueueListeners();
        if (read != Listeners)
        {
            throw new InvalidOperationException($"Switchboard queue listeners: read {read} messages after one trigger, expected {Listeners}.");
        }

        foreach (var queue in _queues)
        {
            if (queue.TryRead(out _))
            {
                throw new InvalidOperationException("Switchboard queue listeners: a queue holds more than the one message triggered.");
            }
        }

        _count = 0;
        Wait(_sender.TriggerAsync(EventName, _payload));
        if (_count != Listeners)
        {
            throw new InvalidOperationException($"Switchboard TriggerAsync: {_count} deliveries, expected {Listeners}.");
        }

        _count = 0;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }

        _subject.Dispose();
        Wait(_bus.DisposeAsync());
        Wait(_inlineBus.DisposeAsync());
        Wait(_queueBus.DisposeAsync());
    }

    [Benchmark(Baseline = true, Description = "Direct: invoke the same N delegates")]
    public void DirectDelegates()
    {
        var message = new BusMessage(SenderName, EventName, _payload);
        var handlers = _handlers;
        for (var i = 0; i < handlers.Length; i++)
        {
            var pending = handlers[i](message, CancellationToken.None);
            if (!pending.IsCompletedSuccessfully)
            {
                pending.AsTask().GetAwaiter().GetResult();
            }
        }
    }

    [Benchmark(Description = "Switchboard: TriggerAsync, N callback listeners")]
    public int Trigger()
    {
        var pending = _sender.TriggerAsync(EventName, _payload);
        if (!pending.IsCompletedSuccessfully)
        {
            pending.AsTask().GetAwaiter().GetResult();
        }

        return _count;
    }

    [Benchmark(Description = "Switchboard: TriggerAsync, N inline listeners (MaxConcurrency = Unbounded)")]
    public int TriggerInline()
    {
        var pending = _inlineSender.TriggerAsync(EventName, _payload);
        if (!pending.IsCompletedSuccessfully)
        {
            pending.AsTask().GetAwaiter().GetResult();
        }

        return _count;
    }

    [Benchmark(Description = "Switchboard: TriggerAsync + TryRead, N queue listeners")]
    public int QueueListeners()
    {
        var pending = _queueSender.TriggerAsync(EventName, _payload);
        if (!pending.IsCompletedSuccessfully)
        {
            pending.AsTask().GetAwaiter().GetResult();
        }

        var read = 0;
        var queues = _queues;
        for (var i = 0; i < queues.Length; i++)
        {
            if (queues[i].TryRead(out var message) && message.Data.Length == 16)
            {
                read++;
            }
        }

        _count += read;
        return read;
    }

    [Benchmark(Description = "Channel<T>: TryWrite + TryRead, N channels")]
    public int ChannelHandOff()
    {
        var message = new BusMessage(SenderName, EventName, _payload);
        var channels = _channels;
        for (var i = 0; i < channels.Length; i++)
        {
            channels[i].Writer.TryWrite(message);
        }

        for (var i = 0; i < channels.Length; i++)
        {
            if (channels[i].Reader.TryRead(out _))
            {
                _count++;
            }
        }

        return _count;
    }

    [Benchmark(Description = "System.Reactive: Subject.OnNext, N subscribers")]
    public void RxSubject() => _subject.OnNext(new BusMessage(SenderName, EventName, _payload));

    [Benchmark(Description = "MediatR 5.1.0: Publish, N handlers")]
    public void MediatRPublish()
    {
        var pending = _mediator.Publish(_notification);
        if (!pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult();
        }
    }

    private void Check(string what, Action once)
    {
        _count = 0;
        once();
        if (_count != Listeners)
        {
            throw new InvalidOperationException($"{what}: {_count} deliveries after one publish, expected {Listeners}; the measured path does not deliver.");
        }

        _count = 0;
    }

    private static T Wait<T>(ValueTask<T> pending) => pending.AsTask().GetAwaiter().GetResult();

    private static void Wait(ValueTask pending) => pending.AsTask().GetAwaiter().GetResult();

    public sealed class TickCounter
    {
        public int Value { get; set; }
    }

    public sealed class TickNotification(BusMessage message, TickCounter counter) : INotification
    {
        public BusMessage Message { get; } = message;

        public TickCounter Counter { get; } = counter;
    }

    public sealed class TickHandler(TickCounter counter) : INotificationHandler<TickNotification>
    {
        public Task Handle(TickNotification notification, CancellationToken cancellationToken)
        {
            counter.Value++;
            return Task.CompletedTask;
        }
    }
}
