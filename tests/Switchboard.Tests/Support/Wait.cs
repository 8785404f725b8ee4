namespace Switchboard.Tests.Support;

/// <summary>Waits on conditions with a deadline, never a fixed sleep.</summary>
internal static class Wait
{
    /// <summary>Generous: a loaded 2-core CI machine must never trip it when the behaviour is right.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {what}.");
            }

            await Task.Delay(5);
        }
    }

    public static async Task<BusMessage> NextAsync(this IListenerQueue queue, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        try
        {
            return await queue.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Assert.Fail($"No message arrived for listener ({queue.Sender ?? "any"}, {queue.Event ?? "any"}) within {(timeout ?? Timeout).TotalSeconds} s.");
            throw;
        }
    }

    public static async Task<T> WithinAsync<T>(this Task<T> task, string what, TimeSpan? timeout = null)
    {
        var done = await Task.WhenAny(task, Task.Delay(timeout ?? Timeout));
        if (done != task)
        {
            Assert.Fail($"Timed out waiting for {what}.");
        }

        return await task;
    }

    public static async Task WithinAsync(this Task task, string what, TimeSpan? timeout = null)
    {
        var done = await Task.WhenAny(task, Task.Delay(timeout ?? Timeout));
        if (done != task)
        {
            Assert.Fail($"Timed out waiting for {what}.");
        }

        await task;
    }
}
