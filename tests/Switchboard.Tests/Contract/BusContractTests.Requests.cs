using System.Diagnostics;

namespace Switchboard.Tests.Contract;

public abstract partial class BusContractTests
{
    [Fact]
    public async Task A_request_is_answered_by_the_named_handler_of_a_sender_on_another_participant()
    {
        var server = await NewBusAsync();
        var client = await NewBusAsync();
        var ticks = 0;
        await using var timer = await server.AddSenderAsync("timer", ["tick"], new()
        {
            ["get_ticks"] = (request, _) => ValueTask.FromResult(Payload.Json(Interlocked.Increment(ref ticks) + request.Data.As<int>())),
        }, cancellationToken: Ct);

        Assert.Equal(101, await client.RequestAsync<int>("timer", "get_ticks", Payload.Json(100), TimeSpan.FromSeconds(5), Ct));
        Assert.Equal(102, await client.RequestAsync<int>("timer", "get_ticks", Payload.Json(100), TimeSpan.FromSeconds(5), Ct));
    }

    [Fact]
    public async Task The_default_handler_answers_requests_without_a_handler_of_their_own()
    {
        var bus = await NewBusAsync();
        await using var sender = await bus.AddSenderAsync("echo", [], new() { ["named"] = (_, _) => ValueTask.FromResult(Payload.Utf8("named")) },
            new SenderOptions { DefaultRequestHandler = (request, _) => ValueTask.FromResult(Payload.Utf8("default:" + request.Name)) }, Ct);
        Assert.Equal("named", (await bus.RequestAsync("echo", "named", cancellationToken: Ct)).ToString());
        Assert.Equal("default:anything.else", (await bus.RequestAsync("echo", "anything.else", cancellationToken: Ct)).ToString());
    }

    [Fact]
    public async Task Requests_to_a_missing_sender_or_handler_fail_at_once_and_distinctly()
    {
        var bus = await NewBusAsync();
        await using var sender = await bus.AddSenderAsync("quiet", ["tick"], new() { ["one"] = (_, _) => ValueTask.FromResult(Payload.Empty) }, cancellationToken: Ct);
        var clock = Stopwatch.StartNew();
        var noSender = await Assert.ThrowsAsync<RequestFailedException>(async () => await bus.RequestAsync("nobody", "x", timeout: TimeSpan.FromSeconds(30), cancellationToken: Ct));
        var noHandler = await Assert.ThrowsAsync<RequestFailedException>(async () => await bus.RequestAsync("quiet", "two", timeout: TimeSpan.FromSeconds(30), cancellationToken: Ct));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"a missing sender or handler must not wait for the timeout (took {clock.Elapsed})");
        Assert.Equal(ErrorCodes.NoSender, noSender.Code);
        Assert.Contains("'nobody'", noSender.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.NoHandler, noHandler.Code);
        Assert.Contains("it answers: one", noHandler.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_handler_exception_comes_back_as_a_handler_error_with_its_message()
    {
        var bus = await NewBusAsync();
        var caller = await NewBusAsync();
        await using var sender = await bus.AddSenderAsync("fragile", [], new() { ["boom"] = (_, _) => throw new InvalidOperationException("disk on fire") }, cancellationToken: Ct);
        var error = await Assert.ThrowsAsync<RequestFailedException>(async () => await caller.RequestAsync("fragile", "boom", cancellationToken: Ct));
        Assert.Equal(ErrorCodes.HandlerError, error.Code);
        Assert.Contains("disk on fire", error.Message, StringComparison.Ordinal);
        Assert.Equal("fragile", error.Sender);
        Assert.Equal("boom", error.Request);
    }

    [Theory]
    [InlineData(60 * 24 * 60 * 60)] // 60 days: more than a timer can be set for, and more than the wire's 2^32 - 1 ms
    [InlineData(-1)] // TimeSpan.MaxValue
    public async Task A_timeout_longer_than_timers_allow_is_shortened_not_refused(int seconds)
    {
        var bus = await NewBusAsync();
        var caller = await NewBusAsync();
        await using var sender = await bus.AddSenderAsync("patient", [], new() { ["ask"] = (request, _) => ValueTask.FromResult(request.Data) }, cancellationToken: Ct);
        var timeout = seconds < 0 ? TimeSpan.MaxValue : TimeSpan.FromSeconds(seconds);
        Assert.Equal(42, await caller.RequestAsync<int>("patient", "ask", Payload.Json(42), timeout, Ct));
        Assert.Equal(43, await caller.RequestAsync<int>("patient", "ask", Payload.Json(43), timeout, Ct)); // the connection is still fine
    }

    [Fact]
    public async Task A_slow_handler_times_out_distinctly()
    {
        var bus = await NewBusAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sender = await bus.AddSenderAsync("slow", [], new()
        {
            ["wait"] = async (_, _) =>
            {
                await release.Task;
                return Payload.Empty;
            },
        }, cancellationToken: Ct);
        var error = await Assert.ThrowsAsync<RequestFailedException>(async () => await bus.RequestAsync("slow", "wait", timeout: TimeSpan.FromMilliseconds(200), cancellationToken: Ct));
        release.SetResult();
        Assert.Equal(ErrorCodes.Timeout, error.Code);
        Assert.Contains("within 200 ms", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cancelled_request_throws_operation_cancelled_not_a_timeout()
    {
        var bus = await NewBusAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sender = await bus.AddSenderAsync("held", [], new()
        {
            ["wait"] = async (_, _) =>
            {
                await release.Task;
                return Payload.Empty;
            },
        }, cancellationToken: Ct);
        using var cts = new CancellationTokenSource();
        var pending = bus.RequestAsync("held", "wait", timeout: TimeSpan.FromSeconds(30), cancellationToken: cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        release.SetResult();
    }
}
