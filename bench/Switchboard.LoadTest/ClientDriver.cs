using System.Diagnostics;
using NATS.Client.Core;

namespace Switchboard.LoadTest;

/// <summary>
/// One real client connection of the client mode (<see cref="LoadDriver.Clients"/>): <c>BusClient</c> to a Switchboard
/// broker, NATS.Net's <c>NatsConnection</c> to nats-server. The client scenarios only call these members, so both
/// clients run the same loops; each member uses its client the way the client's documentation recommends.
/// Subjects are in NATS form (<c>room1.temp</c>); Switchboard maps them to channel events, as the raw codec does.
/// </summary>
internal abstract class ClientDriver : IAsyncDisposable
{
    /// <summary>The request name the responder answers (the raw codec's too).</summary>
    protected const string RequestName = "echo";

    /// <summary>Connects one client to <paramref name="target"/> on 127.0.0.1.</summary>
    public static async Task<ClientDriver> ConnectAsync(BrokerTarget target, string name) => target.Kind switch
    {
        BrokerKind.Switchboard => await BusClientDriver.OpenAsync(target, name),
        _ => await NatsClientDriver.OpenAsync(target, name),
    };

    /// <summary>Subscribes every subject; <paramref name="onMessage"/> gets each delivery's payload length (on the client's threads).</summary>
    public abstract Task SubscribeAsync(IReadOnlyList<string> subjects, Action<int> onMessage);

    /// <summary>Makes this client a publisher of <paramref name="subjects"/> with <paramref name="payload"/>.</summary>
    public abstract Task PreparePublisherAsync(string name, IReadOnlyList<string> subjects, byte[] payload);

    /// <summary>Publishes the prepared payload to the prepared subject <paramref name="subject"/> (an index).</summary>
    public abstract ValueTask PublishAsync(int subject);

    /// <summary>Answers every request to <paramref name="service"/> with <paramref name="payload"/>.</summary>
    public abstract Task RespondAsync(string service, byte[] payload);

    /// <summary>
    /// Requests <paramref name="service"/> one at a time until <paramref name="deadline"/>, each timed by
    /// <paramref name="recorder"/>. The loop is the driver's own so that it awaits the client's own task type: one
    /// async method per loop, not a wrapper per request, whose state machine would count as the client's allocation.
    /// </summary>
    public abstract Task RequestLoopAsync(string service, byte[] payload, long deadline, RequestRecorder recorder);

    /// <summary>Returns once the broker processed everything this client sent before.</summary>
    public abstract Task FlushAsync();

    /// <inheritdoc />
    public abstract ValueTask DisposeAsync();

    private sealed class BusClientDriver(BusClient client) : ClientDriver
    {
        private readonly List<IAsyncDisposable> _registrations = [];
        private ISender? _sender;
        private string[] _events = [];
        private Payload _payload;

        public static async Task<ClientDriver> OpenAsync(BrokerTarget target, string name) =>
            new BusClientDriver(await BusClient.ConnectAsync($"sb://127.0.0.1:{target.Port}", new BusClientOptions { ClientName = name }));

        public override async Task SubscribeAsync(IReadOnlyList<string> subjects, Action<int> onMessage)
        {
            // One listener per pattern: S6's wildcards overlap each other, which one listener may not hold. BorrowData is
            // the zero-copy receipt docs/client-api.md gives (the callback reads the payload before it returns), the
            // counterpart of NATS.Net's NatsMemoryOwner below; without it each delivery is a copy of its payload.
            var borrow = new ListenerOptions { BorrowData = true };
            foreach (var subject in subjects)
            {
                _registrations.Add(await client.ListenAsync(null, SwitchboardCodec.Channel(subject), (message, _) =>
                {
                    onMessage(message.Data.Length);
                    return ValueTask.CompletedTask;
                }, borrow));
            }
        }

        public override async Task PreparePublisherAsync(string name, IReadOnlyList<string> subjects, byte[] payload)
        {
            _events = subjects.Select(SwitchboardCodec.Channel).ToArray();
            _sender = await client.AddSenderAsync(name, _events);
            _registrations.Add(_sender);
            _payload = Payload.From(payload);
        }

        public override ValueTask PublishAsync(int subject) => _sender!.TriggerAsync(_events[subject], _payload);

        public override async Task RespondAsync(string service, byte[] payload)
        {
            var answer = Payload.From(payload);
            _registrations.Add(await client.AddSenderAsync(service, [], new Dictionary<string, RequestHandler>
            {
                [RequestName] = (_, _) => ValueTask.FromResult(answer),
            }));
        }

        public override async Task RequestLoopAsync(string service, byte[] payload, long deadline, RequestRecorder recorder)
        {
            var data = Payload.From(payload);
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var sentAt = recorder.Sending();
                _ = await client.RequestAsync(service, RequestName, data);
                recorder.Replied(sentAt, deadline);
            }
        }

        public override Task FlushAsync() => client.FlushAsync().AsTask();

        public override async ValueTask DisposeAsync()
        {
            foreach (var registration in _registrations)
            {
                await registration.DisposeAsync();
            }

            await client.DisposeAsync();
        }
    }

    private sealed class NatsClientDriver(NatsConnection connection) : ClientDriver
    {
        private readonly List<INatsSub<NatsMemoryOwner<byte>>> _subscriptions = [];
        private readonly List<Task> _readers = [];
        private string[] _subjects = [];
        private byte[] _payload = [];

        public static async Task<ClientDriver> OpenAsync(BrokerTarget target, string name)
        {
            var connection = new NatsConnection(new NatsOpts { Url = $"nats://127.0.0.1:{target.Port}", Name = name });
            await connection.ConnectAsync();
            return new NatsClientDriver(connection);
        }

        public override async Task SubscribeAsync(IReadOnlyList<string> subjects, Action<int> onMessage)
        {
            // SubscribeCoreAsync returns once the SUB is written, so the run can start when FlushAsync returns;
            // reading its channel is what `await foreach (... SubscribeAsync(...))` does. NatsMemoryOwner is the
            // pooled buffer NATS.Net documents for receiving without a copy per message.
            foreach (var subject in subjects)
            {
                var subscription = await connection.SubscribeCoreAsync<NatsMemoryOwner<byte>>(subject);
                _subscriptions.Add(subscription);
                _readers.Add(ReadAsync(subscription, onMessage));
            }
        }

        public override Task PreparePublisherAsync(string name, IReadOnlyList<string> subjects, byte[] payload)
        {
            _subjects = [.. subjects];
            _payload = payload;
            return Task.CompletedTask;
        }

        public override ValueTask PublishAsync(int subject) => connection.PublishAsync(_subjects[subject], _payload);

        public override async Task RespondAsync(string service, byte[] payload)
        {
            var subscription = await connection.SubscribeCoreAsync<byte[]>(service);
            _readers.Add(AnswerAsync(subscription, payload));
        }

        public override async Task RequestLoopAsync(string service, byte[] payload, long deadline, RequestRecorder recorder)
        {
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var sentAt = recorder.Sending();
                _ = await connection.RequestAsync<byte[], byte[]>(service, payload);
                recorder.Replied(sentAt, deadline);
            }
        }

        public override async Task FlushAsync() => await connection.PingAsync();

        public override async ValueTask DisposeAsync()
        {
            foreach (var subscription in _subscriptions)
            {
                await subscription.DisposeAsync();
            }

            await connection.DisposeAsync();
            await Task.WhenAll(_readers).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        private static async Task ReadAsync(INatsSub<NatsMemoryOwner<byte>> subscription, Action<int> onMessage)
        {
            await foreach (var message in subscription.Msgs.ReadAllAsync())
            {
                using var data = message.Data;
                onMessage(data.Memory.Length);
            }
        }

        private static async Task AnswerAsync(INatsSub<byte[]> subscription, byte[] payload)
        {
            await using (subscription)
            {
                await foreach (var message in subscription.Msgs.ReadAllAsync())
                {
                    await message.ReplyAsync(payload);
                }
            }
        }
    }
}

/// <summary>One request loop's counts and latencies; the array is made before the window, so growing it is rare.</summary>
internal sealed class RequestRecorder
{
    private long[] _latencies = new long[1 << 16];
    private int _count;

    public long Sent { get; private set; }

    public long Completed { get; private set; }

    public long CompletedInWindow => _count;

    public ArraySegment<long> Latencies => new(_latencies, 0, _count);

    /// <summary>Counts a request about to be sent; returns its send time.</summary>
    public long Sending()
    {
        Sent++;
        return Stopwatch.GetTimestamp();
    }

    /// <summary>Counts the reply to a request sent at <paramref name="sentAt"/>, timed when it came inside the window.</summary>
    public void Replied(long sentAt, long deadline)
    {
        var now = Stopwatch.GetTimestamp();
        Completed++;
        if (now > deadline)
        {
            return;
        }

        if (_count == _latencies.Length)
        {
            Array.Resize(ref _latencies, _latencies.Length * 2);
        }

        _latencies[_count++] = now - sentAt;
    }
}
