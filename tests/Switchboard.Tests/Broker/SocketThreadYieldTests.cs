using Switchboard.Server;

namespace Switchboard.Tests.Broker;

/// <summary>The pause a read loop takes when its turn is over: it gives the thread back, and every yielder comes back.</summary>
public sealed class SocketThreadYieldTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Many_loops_yielding_at_once_all_come_back(bool toThreadPool)
    {
        const int Loops = 200, Yields = 50;
        var resumed = 0;
        var loops = Enumerable.Range(0, Loops).Select(async _ =>
        {
            for (var i = 0; i < Yields; i++)
            {
                await SocketThreadYield.Yield(toThreadPool);
                Interlocked.Increment(ref resumed);
            }
        });

        await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(Loops * Yields, resumed);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_yield_always_gives_the_thread_back(bool toThreadPool)
    {
        var started = new ManualResetEventSlim();
        async Task YieldOnceAsync()
        {
            await SocketThreadYield.Yield(toThreadPool);
            Assert.True(started.Wait(TimeSpan.FromSeconds(5), Ct)); // resumed elsewhere: the caller below has gone on
        }

        var pending = YieldOnceAsync();
        Assert.False(pending.IsCompleted);
        started.Set();
        await pending.WaitAsync(TimeSpan.FromSeconds(30), Ct);
    }
}
