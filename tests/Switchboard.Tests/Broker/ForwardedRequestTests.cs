using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using Switchboard.Server;
using Switchboard.Tests.Support;
using Switchboard.Wire;

namespace Switchboard.Tests.Broker;

/// <summary>Requests the broker relays from one client to another (ForwardedRequest): every answer reaches the one
/// who asked, and a request ends exactly once, whether the answer comes, comes late, or never comes.</summary>
public sealed class ForwardedRequestTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static BusClientOptions Named(string name) => new() { ClientName = name };

    [Fact]
    public async Task Concurrent_requests_from_many_clients_each_get_their_own_answer()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var answerer = await BusClient.ConnectAsync(host.TcpAddress!, Named("answerer"), Ct);
        await using var echo = await answerer.AddSenderAsync("echo", [], new()
        {
            ["twice"] = async (request, _) =>
            {
                await Task.Yield(); // answers complete out of order
                return Payload.Json(request.Data.As<int>() * 2);
            },
        }, cancellationToken: Ct);
        var askers = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => BusClient.ConnectAsync(host.TcpAddress!, Named($"asker{i}"), Ct)));
        try
        {
            var answers = await Task.WhenAll(askers.SelectMany((asker, a) => Enumerable.Range(0, 300).Select(async i =>
            {
                var question = (a * 1000) + i;
                return (question, answer: await asker.RequestAsync<int>("echo", "twice", Payload.Json(question), TimeSpan.FromSeconds(30), Ct));
            })));
            Assert.Equal(900, answers.Length);
            Assert.All(answers, pair => Assert.Equal(pair.question * 2, pair.answer));
        }
        finally
        {
            foreach (var asker in askers)
            {
                await asker.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_late_answer_after_the_timeout_is_dropped_and_the_next_request_gets_its_own_answer()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var answerer = await BusClient.ConnectAsync(host.TcpAddress!, Named("answerer"), Ct);
        await using var asker = await BusClient.ConnectAsync(host.TcpAddress!, Named("asker"), Ct);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answeredLate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var slow = await answerer.AddSenderAsync("slow", [], new()
        {
            ["value"] = async (request, _) =>
            {
                var value = request.Data.As<string>();
                if (value == "first")
                {
                    await release.Task;
                    answeredLate.TrySetResult();
                }

                return Payload.Json(value + "-answer");
            },
        }, cancellationToken: Ct);

        var timedOut = await Assert.ThrowsAsync<RequestFailedException>(async () =>
            await asker.RequestAsync("slow", "value", Payload.Json("first"), TimeSpan.FromMilliseconds(200), cancellationToken: Ct));
        Assert.Equal(ErrorCodes.Timeout, timedOut.Code);
        Assert.Contains("within 200 ms", timedOut.Message, StringComparison.Ordinal);

        release.SetResult(); // the late answer to "first" reaches the broker now, with nobody waiting for it
        await answeredLate.Task.WithinAsync("the slow handler answering late");
        await answerer.FlushAsync(Ct);
        Assert.Equal("second-answer", await asker.RequestAsync<string>("slow", "value", Payload.Json("second"), TimeSpan.FromSeconds(30), Ct));
    }

    [Fact]
    public async Task When_the_answering_client_vanishes_the_asker_hears_at_once_not_at_its_timeout()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var asker = await BusClient.ConnectAsync(host.TcpAddress!, Named("asker"), Ct);
        var peer = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        await peer.HelloAsync(Ct);
        await peer.SendAsync(b => Frames.AddSender(b, false, 1, "mute", [], ["question"], false, null, default), Ct);
        await Wait.UntilAsync(() => host.Broker.Bus.GetSendersAsync(Ct).AsTask().Result.Any(s => s.Name == "mute"), "the mute sender is online");

        var clock = Stopwatch.StartNew();
        var pending = asker.RequestAsync("mute", "question", Payload.Json(1), TimeSpan.FromSeconds(60), cancellationToken: Ct).AsTask();
        await ReadUntilAsync(peer, FrameType.RequestIn).WithinAsync("the REQUEST_IN reaching the mute peer");
        Assert.False(pending.IsCompleted);
        await peer.DisposeAsync(); // gone without answering

        var error = await Assert.ThrowsAsync<RequestFailedException>(() => pending.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the asker must not wait for its 60 s timeout (took {clock.Elapsed})");
        Assert.Equal(ErrorCodes.HandlerError, error.Code);
        Assert.Contains("closed before it answered", error.Message, StringComparison.Ordinal);
        Assert.Equal(("mute", "question"), (error.Sender, error.Request));
    }

    private static async Task ReadUntilAsync(RawPeer peer, FrameType wanted)
    {
        var parser = new FrameParser();
        var received = new List<byte>();
        var chunk = new byte[4096];
        while (true)
        {
            var read = await peer.Socket.ReceiveAsync(chunk, SocketFlags.None, Ct);
            Assert.NotEqual(0, read);
            received.AddRange(chunk.AsSpan(0, read));
            var buffer = new ReadOnlySequence<byte>(received.ToArray());
            while (parser.TryReadFrame(ref buffer, out var type, out _))
            {
                if (type == wanted)
                {
                    return;
                }
            }

            received = [.. buffer.ToArray()];
        }
    }

    [Fact]
    public async Task When_the_asker_leaves_its_unanswered_requests_are_dropped_not_held_until_their_timeout()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var peer = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        await peer.HelloAsync(Ct);
        await peer.SendAsync(b => Frames.AddSender(b, false, 1, "mute", [], ["question"], false, null, default), Ct);
        await Wait.UntilAsync(() => host.Broker.Bus.GetSendersAsync(Ct).AsTask().Result.Any(s => s.Name == "mute"), "the mute sender is online");

        var asker = await BusClient.ConnectAsync(host.TcpAddress!, Named("asker"), Ct);
        var pending = Enumerable.Range(0, 5)
            .Select(i => asker.RequestAsync("mute", "question", Payload.Json(i), TimeSpan.FromMinutes(10), cancellationToken: Ct).AsTask())
            .ToList();
        await Wait.UntilAsync(() => host.Broker.RelayedRequestsPending == 5, "five requests relayed to the mute peer");
        await asker.DisposeAsync();
        await Wait.UntilAsync(() => host.Broker.RelayedRequestsPending == 0, "the leaving asker's requests dropped");
        await Wait.UntilAsync(() => pending.All(p => p.IsCompleted), "the asker's own calls ending as it closed");
        Assert.All(pending, p => Assert.False(p.IsCompletedSuccessfully));
    }

    [Fact]
    public async Task A_timeout_that_fires_while_the_request_is_being_relayed_still_answers_the_asker()
    {
        // Timers created by the broker fire before CreateTimer returns: as if the relaying thread were descheduled
        // right after arming the timeout of a 1 ms request.
        var time = new TimerFiresFirstTimeProvider();
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0, Bus = BusOptions.Default with { TimeProvider = time } }, cancellationToken: Ct);
        await using var mute = await RawPeer.ConnectAsync(host.TcpAddress!, Ct);
        await mute.HelloAsync(Ct);
        await mute.SendAsync(b => Frames.AddSender(b, false, 1, "mute", [], ["question"], false, null, default), Ct);
        await Wait.UntilAsync(() => host.Broker.Bus.GetSendersAsync(Ct).AsTask().Result.Any(s => s.Name == "mute"), "the mute sender is online");

        await using var asker = await RawPeer.ConnectAsync(host.TcpAddress!, Ct); // no client-side backstop: only the broker can answer
        await asker.HelloAsync(Ct);
        time.FireEarly = true;
        await asker.SendAsync(b => Frames.Request(b, false, 7, "mute", "question", 1, null, Payload.Json(1)), Ct);
        await ReadUntilAsync(asker, FrameType.Reply).WithinAsync("the broker's timeout REPLY");
        await Wait.UntilAsync(() => host.Broker.RelayedRequestsPending == 0, "nothing left pending");
    }

    /// <summary>Real timers, except that once <see cref="FireEarly"/> is set, a timer armed for a short time has fired
    /// by the time its arming call (CreateTimer or Change) returns.</summary>
    private sealed class TimerFiresFirstTimeProvider : TimeProvider
    {
        public volatile bool FireEarly;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var fired = new ManualResetEventSlim();
            var timer = new EarlyTimer(this, base.CreateTimer(s => { callback(s); fired.Set(); }, state, dueTime, period), fired);
            timer.WaitIfShort(dueTime);
            return timer;
        }

        private sealed class EarlyTimer(TimerFiresFirstTimeProvider owner, ITimer inner, ManualResetEventSlim fired) : ITimer
        {
            [ThreadStatic]
            private static bool t_arming;

            public void WaitIfShort(TimeSpan dueTime)
            {
                if (owner.FireEarly && !t_arming && dueTime >= TimeSpan.Zero && dueTime <= TimeSpan.FromMilliseconds(10))
                {
                    t_arming = true;
                    try
                    {
                        fired.Wait(TimeSpan.FromSeconds(5));
                    }
                    finally
                    {
                        t_arming = false;
                    }
                }
            }

            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                fired.Reset();
                var changed = inner.Change(dueTime, period);
                WaitIfShort(dueTime);
                return changed;
            }

            public void Dispose() => inner.Dispose();

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_error_answer_keeps_its_message_and_becomes_a_handler_error_as_on_every_bus()
    {
        await using var host = await BrokerHost.StartAsync(new BrokerOptions { Port = 0 }, cancellationToken: Ct);
        await using var answerer = await BusClient.ConnectAsync(host.TcpAddress!, Named("answerer"), Ct);
        await using var asker = await BusClient.ConnectAsync(host.TcpAddress!, Named("asker"), Ct);
        await using var strict = await answerer.AddSenderAsync("strict", [], new()
        {
            ["check"] = (_, _) => throw new SwitchboardException("not_allowed", "only on Tuesdays"),
        }, cancellationToken: Ct);
        var error = await Assert.ThrowsAsync<RequestFailedException>(async () => await asker.RequestAsync("strict", "check", cancellationToken: Ct));
        Assert.Equal(ErrorCodes.HandlerError, error.Code);
        Assert.Contains("only on Tuesdays", error.Message, StringComparison.Ordinal);
        Assert.StartsWith("Sender 'strict' failed to answer 'check'", error.Message, StringComparison.Ordinal);
    }
}
