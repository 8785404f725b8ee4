using System.Buffers;
using System.Text;
using Switchboard.Server;
using Switchboard.Transports;

namespace Switchboard.Tests.Transports;

/// <summary>The hand-off between many writers and one write loop: nothing written is lost, wake-ups held back for a
/// batch are all delivered, on the thread that ends the batch.</summary>
public sealed class OutboundBufferTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private static void Write(OutboundBuffer buffer, string text)
    {
        lock (buffer.Sync)
        {
            buffer.Writer.Write<byte>(Encoding.ASCII.GetBytes(text));
            buffer.Commit();
        }
    }

    [Fact]
    public async Task A_commit_wakes_a_waiting_loop_with_everything_written()
    {
        var buffer = new OutboundBuffer(1 << 20);
        var take = buffer.TakeAsync(TestContext.Current.CancellationToken);
        Assert.False(take.IsCompleted);
        Write(buffer, "ab");
        Write(buffer, "cd");
        var batch = await take.AsTask().WaitAsync(Patience, TestContext.Current.CancellationToken);
        Assert.StartsWith("ab", Encoding.ASCII.GetString(batch.Span));
        var all = Encoding.ASCII.GetString(batch.Span);
        if (all.Length == 2)
        {
            all += Encoding.ASCII.GetString((await buffer.TakeAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(Patience, TestContext.Current.CancellationToken)).Span);
        }

        Assert.Equal("abcd", all);
    }

    [Fact]
    public async Task Deferred_wake_ups_wait_for_the_end_of_the_batch_and_run_the_loops_on_that_thread()
    {
        var buffers = Enumerable.Range(0, 3).Select(_ => new OutboundBuffer(1 << 20)).ToArray();
        var woken = new int?[buffers.Length];
        var loops = buffers.Select((buffer, i) => LoopOnceAsync(buffer, i)).ToArray();

        async Task LoopOnceAsync(OutboundBuffer buffer, int index)
        {
            var batch = await buffer.TakeAsync(CancellationToken.None);
            woken[index] = Environment.CurrentManagedThreadId;
            Assert.Equal("x" + index, Encoding.ASCII.GetString(batch.Span));
        }

        var batchThread = Environment.CurrentManagedThreadId;
        OutboundBuffer.DeferSignals();
        for (var i = 0; i < buffers.Length; i++)
        {
            Write(buffers[i], "x" + i);
        }

        Assert.All(loops, loop => Assert.False(loop.IsCompleted)); // held back while the batch lasts
        OutboundBuffer.SignalDeferred();
        Assert.All(loops, loop => Assert.True(loop.IsCompletedSuccessfully)); // ran inline, before SignalDeferred returned
        Assert.All(woken, thread => Assert.Equal(batchThread, thread));
        await Task.WhenAll(loops);
    }

    [Fact]
    public async Task Without_deferral_a_commit_never_runs_the_loop_inside_the_writers_commit()
    {
        var buffer = new OutboundBuffer(1 << 20);
        var writerThread = Environment.CurrentManagedThreadId;
        var writing = true;
        var woke = new TaskCompletionSource<(bool InsideCommit, bool HeldLock)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var loop = LoopAsync();

        async Task LoopAsync()
        {
            await buffer.TakeAsync(CancellationToken.None);
            woke.TrySetResult((Volatile.Read(ref writing) && Environment.CurrentManagedThreadId == writerThread, buffer.Sync.IsHeldByCurrentThread));
        }

        Write(buffer, "z");
        Volatile.Write(ref writing, false);
        var (insideCommit, heldLock) = await woke.Task.WaitAsync(Patience, TestContext.Current.CancellationToken);
        Assert.False(insideCommit); // the writer may hold other locks or be user code: the loop goes to the thread pool
        Assert.False(heldLock);
        await loop;
    }

    [Fact]
    public async Task A_wake_up_given_while_nobody_waits_is_kept_for_the_next_wait()
    {
        var buffer = new OutboundBuffer(1 << 20);
        Write(buffer, "early");
        var batch = await buffer.TakeAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(Patience, TestContext.Current.CancellationToken);
        Assert.Equal("early", Encoding.ASCII.GetString(batch.Span));
    }

    [Fact]
    public async Task A_canceled_wait_throws_and_the_buffer_still_works_afterwards()
    {
        var buffer = new OutboundBuffer(1 << 20);
        using var cancel = new CancellationTokenSource();
        var take = buffer.TakeAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => take.WaitAsync(Patience, TestContext.Current.CancellationToken));
        Write(buffer, "after");
        var batch = await buffer.TakeAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(Patience, TestContext.Current.CancellationToken);
        Assert.Equal("after", Encoding.ASCII.GetString(batch.Span));
    }

    [Fact]
    public async Task Many_writers_on_many_threads_lose_nothing()
    {
        const int Writers = 4;
        const int PerWriter = 20_000;
        var buffer = new OutboundBuffer(long.MaxValue);
        var received = 0L;
        var loop = Task.Run(async () =>
        {
            while (Interlocked.Read(ref received) < Writers * PerWriter)
            {
                var batch = await buffer.TakeAsync(CancellationToken.None);
                Interlocked.Add(ref received, batch.Length);
            }
        }, TestContext.Current.CancellationToken);
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(() =>
        {
            for (var i = 0; i < PerWriter; i++)
            {
                var defer = i % 100 == 0;
                if (defer)
                {
                    OutboundBuffer.DeferSignals();
                }

                Write(buffer, "m");
                if (defer)
                {
                    OutboundBuffer.SignalDeferred();
                }
            }
        }, TestContext.Current.CancellationToken)));
        await loop.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.Equal(Writers * PerWriter, Interlocked.Read(ref received));
    }
}

/// <summary>The large-block pool Kestrel receives into: blocks are reused, bounded, and never handed out twice.</summary>
public sealed class LargeBlockMemoryPoolTests
{
    [Fact]
    public void A_returned_block_is_reused_and_a_second_dispose_does_not_pool_it_twice()
    {
        using var pool = new LargeBlockMemoryPool();
        var first = pool.Rent(4096);
        Assert.Equal(LargeBlockMemoryPool.BlockSize, first.Memory.Length);
        first.Memory.Span[0] = 42;
        first.Dispose();
        first.Dispose();
        var second = pool.Rent();
        var third = pool.Rent();
        Assert.Same(first, second);
        Assert.NotSame(second, third);
    }

    [Fact]
    public void Released_free_blocks_are_not_handed_out_again_and_blocks_in_use_are_kept()
    {
        using var pool = new LargeBlockMemoryPool();
        var freed = pool.Rent();
        var inUse = pool.Rent();
        freed.Dispose();
        Assert.True(LargeBlockMemoryPool.ReleaseFreeBlocks() >= 1);
        var fresh = pool.Rent();
        Assert.NotSame(freed, fresh);
        inUse.Dispose(); // returned after the release: pooled as usual
        Assert.Same(inUse, pool.Rent());
    }

    [Fact]
    public void More_than_a_block_is_refused_clearly()
    {
        using var pool = new LargeBlockMemoryPool();
        Assert.Equal(LargeBlockMemoryPool.BlockSize, pool.MaxBufferSize);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(LargeBlockMemoryPool.BlockSize + 1));
    }

    [Fact]
    public void Free_blocks_kept_are_bounded()
    {
        using var pool = new LargeBlockMemoryPool();
        var blocks = Enumerable.Range(0, LargeBlockMemoryPool.MaxRetained + 10).Select(_ => pool.Rent()).ToList();
        blocks.ForEach(b => b.Dispose());
        var again = Enumerable.Range(0, LargeBlockMemoryPool.MaxRetained + 10).Select(_ => pool.Rent()).ToList();
        Assert.Equal(LargeBlockMemoryPool.MaxRetained, again.Count(blocks.Contains));
    }
}
