using Switchboard.Tests.Support;

namespace Switchboard.Tests.Cluster;

/// <summary>Requests to senders on other nodes: answered through the owner node, with the same fast failures and
/// timeouts as on one broker.</summary>
public sealed class ClusterRequestTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_request_to_a_sender_on_another_node_is_answered()
    {
        await using var cluster = await ClusterFixture.StartAsync(2);
        var a = await cluster.ConnectAsync(0, "a");
        var b = await cluster.ConnectAsync(1, "b");
        await using var service = await a.AddSenderAsync("svc", [], new()
        {
            ["echo"] = (request, _) => ValueTask.FromResult(Payload.Utf8("echo:" + request.Data)),
            ["fail"] = (_, _) => throw new InvalidOperationException("boom"),
            ["slow"] = async (_, ct) => { await Task.Delay(TimeSpan.FromSeconds(30), ct); return default; },
        }, cancellationToken: Ct);
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal($"echo:{i}", (await b.RequestAsync("svc", "echo", Payload.Utf8(i.ToString(System.Globalization.CultureInfo.InvariantCulture)), cancellationToken: Ct)).ToString());
        }

        var failed = await Assert.ThrowsAsync<RequestFailedException>(async () => await b.RequestAsync("svc", "fail", cancellationToken: Ct));
        Assert.Equal(ErrorCodes.HandlerError, failed.Code);
        Assert.Contains("boom", failed.Message, StringComparison.Ordinal);

        var timedOut = await Assert.ThrowsAsync<RequestFailedException>(async () => await b.RequestAsync("svc", "slow", timeout: TimeSpan.FromMilliseconds(300), cancellationToken: Ct));
        Assert.Equal(ErrorCodes.Timeout, timedOut.Code);
        await Wait.UntilAsync(() => cluster.Node(0).Links.All(l => l.Serving.IsEmpty), "the owner node stops the timed-out request");
    }

    [Fact]
    public async Task No_sender_and_no_handler_fail_at_once_across_the_cluster()
    {
        await using var cluster = await ClusterFixture.StartAsync(2);
        var a = await cluster.ConnectAsync(0, "a");
        var b = await cluster.ConnectAsync(1, "b");
        await using var service = await a.AddSenderAsync("svc", [], new() { ["known"] = (_, _) => ValueTask.FromResult(Payload.Utf8("ok")) }, cancellationToken: Ct);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var noHandler = await Assert.ThrowsAsync<RequestFailedException>(async () => await b.RequestAsync("svc", "unknown", timeout: TimeSpan.FromSeconds(20), cancellationToken: Ct));
        Assert.Equal(ErrorCodes.NoHandler, noHandler.Code);
        var noSender = await Assert.ThrowsAsync<RequestFailedException>(async () => await b.RequestAsync("nobody", "known", timeout: TimeSpan.FromSeconds(20), cancellationToken: Ct));
        Assert.Equal(ErrorCodes.NoSender, noSender.Code);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "the failures waited for a timeout");
    }

    [Fact]
    public async Task A_request_waiting_on_a_node_that_dies_fails_with_handler_error()
    {
        await using var cluster = await ClusterFixture.StartAsync(2);
        var doomed = await cluster.ConnectAsync(0, "doomed");
        var b = await cluster.ConnectAsync(1, "b");
        await doomed.AddSenderAsync("svc", [], new() { ["hang"] = async (_, ct) => { await Task.Delay(TimeSpan.FromMinutes(1), ct); return default; } }, cancellationToken: Ct);
        var asking = b.RequestAsync("svc", "hang", timeout: TimeSpan.FromSeconds(30), cancellationToken: Ct).AsTask();
        await Wait.UntilAsync(() => cluster.Node(1).Links.Any(l => !l.Asked.IsEmpty), "the request reaches the link");
        await cluster.KillNodeAsync(0);
        var failed = await Assert.ThrowsAsync<RequestFailedException>(() => asking.WithinAsync("the request to fail when its node dies"));
        Assert.Equal(ErrorCodes.HandlerError, failed.Code);
    }
}
