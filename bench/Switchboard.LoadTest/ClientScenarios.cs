using System.Diagnostics;

namespace Switchboard.LoadTest;

/// <summary>
/// S1–S3 and S6 with the real clients (<see cref="ClientDriver"/>): the shapes of <see cref="PubSubScenario"/> (the same
/// subjects, payloads, subscribers and end-to-end <see cref="FlowWindow"/>), one client per connection; the publisher
/// thread publishes one message per call instead of copying pre-encoded batches. Besides the rates, the generator's
/// allocated bytes over the measured window give the clients' bytes per delivery.
/// </summary>
internal sealed class ClientPubSubScenario(string id, string title, int payloadSize, int subscribers, PubSubScenario.SubjectMix mix) : Scenario(id, title)
{
    public override RunMeasurement Run(BrokerTarget target, LoadOptions options, TimeSpan duration, bool warmup) =>
        RunAsync(target, options, duration).GetAwaiter().GetResult();

    private async Task<RunMeasurement> RunAsync(BrokerTarget target, LoadOptions options, TimeSpan duration)
    {
        var tag = NextTag(Id);
        var payload = MakePayload(payloadSize);
        var (subjects, subscriptions) = PubSubScenario.SubjectsOf(mix, options);
        var flow = new FlowWindow(subscribers, options.WindowFor(payloadSize));
        var clients = new List<ClientDriver>();
        var badSizes = 0L;
        try
        {
            for (var i = 0; i < subscribers; i++)
            {
                var index = i;
                var subscriber = await ClientDriver.ConnectAsync(target, $"sub{i}-{tag}");
                clients.Add(subscriber);
                await subscriber.SubscribeAsync(subscriptions, length =>
                {
                    flow.AddReceived(index, 1);
                    if (length != payloadSize)
                    {
                        Interlocked.Increment(ref badSizes);
                    }
                });
                await subscriber.FlushAsync();
            }

            var publisher = await ClientDriver.ConnectAsync(target, "pub-" + tag);
            clients.Add(publisher);
            await publisher.PreparePublisherAsync("pub-" + tag, subjects, payload);
            await publisher.FlushAsync();
            var (measurement, publishError) = Measure(target, options, duration, flow, publisher, subjects.Length);
            var errors = measurement.Errors + (publishError is null ? 0 : 1) + (badSizes > 0 ? 1 : 0);
            var first = publishError is not null ? "publisher: " + publishError.Message
                : badSizes > 0 ? $"{badSizes} deliveries had a payload size other than {payloadSize}" : null;
            return measurement with { Errors = errors, FirstError = first };
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    private (RunMeasurement Measurement, Exception? PublishError) Measure(BrokerTarget target, LoadOptions options, TimeSpan duration, FlowWindow flow, ClientDriver publisher, int subjectCount)
    {
        var start = CpuSample.Take(target, options);
        var probe = ClientProbe.Take();
        var deadline = Deadline(start.Timestamp, duration);
        Exception? publishError = null;
        var publishing = new Thread(() =>
        {
            try
            {
                Publish(publisher, flow, subjectCount, deadline, options.Seed);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                publishError = ex;
            }
        })
        {
            IsBackground = true,
            Name = "publish " + Id,
        };
        publishing.Start();
        SleepUntil(deadline);
        var end = CpuSample.Take(target, options);
        var received = flow.TotalReceived();
        var probed = ClientProbe.Take();
        publishing.Join(TimeSpan.FromSeconds(15));
        flow.Drain(options.DrainTimeout);
        var seconds = end.SecondsSince(start);
        var rate = received / seconds;
        return (probed.Apply(new RunMeasurement
        {
            Seconds = seconds,
            Sent = flow.Sent,
            Received = received,
            Loss = (flow.Sent * subscribers) - flow.TotalReceived(),
            Rate = rate,
            MegabytesPerSecond = rate * payloadSize / 1e6,
            BrokerCpuNsPerOp = end.BrokerNsSince(start) is { } ns && received > 0 ? ns / received : null,
            BrokerCpuPercent = end.BrokerPercentSince(start),
            GeneratorCpuPercent = end.SelfPercentSince(start),
        }, probe, received), publishError);
    }

    /// <summary>One call per message, as an application publishes; a call that does not complete at once (the client's back-pressure) is waited for.</summary>
    private static void Publish(ClientDriver publisher, FlowWindow flow, int subjectCount, long deadline, int seed)
    {
        var random = new PubSubScenario.XorShift(seed);
        while (true)
        {
            var room = flow.WaitForRoom(deadline);
            if (room <= 0)
            {
                return;
            }

            flow.AddSent((int)room);
            for (var i = 0; i < room; i++)
            {
                var publish = publisher.PublishAsync(subjectCount == 1 ? 0 : random.Next(subjectCount));
                if (!publish.IsCompletedSuccessfully)
                {
                    publish.AsTask().GetAwaiter().GetResult();
                }
            }

            if (Stopwatch.GetTimestamp() >= deadline)
            {
                return;
            }
        }
    }
}

/// <summary>
/// S4 and S7 with the real clients: <c>concurrency</c> loops, each awaiting one <c>RequestAsync</c> at a time, to a
/// responder client answering 16 B; each completion inside the window is timed (call to completion, Stopwatch).
/// </summary>
internal sealed class ClientRequestScenario(string id, string title, int concurrency, int payloadSize) : Scenario(id, title)
{
    public override RunMeasurement Run(BrokerTarget target, LoadOptions options, TimeSpan duration, bool warmup) =>
        RunAsync(target, options, duration).GetAwaiter().GetResult();

    private async Task<RunMeasurement> RunAsync(BrokerTarget target, LoadOptions options, TimeSpan duration)
    {
        var tag = NextTag(Id);
        var payload = MakePayload(payloadSize);
        var service = "echo-" + tag;
        await using var responder = await ClientDriver.ConnectAsync(target, "responder-" + tag);
        await responder.RespondAsync(service, payload);
        await responder.FlushAsync();
        await using var requester = await ClientDriver.ConnectAsync(target, "requester-" + tag);
        var loops = Enumerable.Range(0, concurrency).Select(_ => new RequestLoop(requester, service, payload)).ToArray();

        var start = CpuSample.Take(target, options);
        var probe = ClientProbe.Take();
        var deadline = Deadline(start.Timestamp, duration);
        var running = loops.Select(loop => Task.Run(() => loop.RunAsync(deadline))).ToArray();
        SleepUntil(deadline);
        var end = CpuSample.Take(target, options);
        var probed = ClientProbe.Take();
        var finished = Task.WhenAll(running).Wait(options.DrainTimeout + TimeSpan.FromSeconds(10));
        var failure = loops.Select(l => l.Error).FirstOrDefault(e => e is not null);
        var latencies = loops.SelectMany(l => l.Recorder.Latencies).ToArray();
        Array.Sort(latencies);
        var completed = loops.Sum(l => l.Recorder.CompletedInWindow);
        var sent = loops.Sum(l => l.Recorder.Sent);
        var seconds = (double)(deadline - start.Timestamp) / Stopwatch.Frequency;
        return probed.Apply(new RunMeasurement
        {
            Seconds = seconds,
            Sent = sent,
            Received = completed,
            Loss = sent - loops.Sum(l => l.Recorder.Completed),
            Rate = completed / seconds,
            P50Us = RequestScenario.Percentile(latencies, 0.50),
            P99Us = RequestScenario.Percentile(latencies, 0.99),
            P999Us = RequestScenario.Percentile(latencies, 0.999),
            BrokerCpuNsPerOp = end.BrokerNsSince(start) is { } ns && completed > 0 ? ns / completed : null,
            BrokerCpuPercent = end.BrokerPercentSince(start),
            GeneratorCpuPercent = end.SelfPercentSince(start),
            Errors = (failure is null ? 0 : 1) + (finished ? 0 : 1),
            FirstError = failure is not null ? $"requester: {failure.GetType().Name}: {failure.Message}" : finished ? null : "the request loops did not end",
        }, probe, completed);
    }

    /// <summary>One loop with one request in flight; its failure ends it and is reported.</summary>
    private sealed class RequestLoop(ClientDriver requester, string service, byte[] payload)
    {
        public RequestRecorder Recorder { get; } = new();

        public Exception? Error { get; private set; }

        public async Task RunAsync(long deadline)
        {
            try
            {
                await requester.RequestLoopAsync(service, payload, deadline, Recorder);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Error = ex;
            }
        }
    }
}
