using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace Switchboard.Server;

/// <summary>
/// The memory Kestrel's socket transport receives into and sends from. Kestrel's own pool hands out 4 KiB blocks, so a
/// publisher's 64 KiB burst costs the broker about thirty receive calls and as many read-loop wake-ups; with 64 KiB
/// blocks it costs one or two (nats-server reads up to 64 KiB per call too). Idle connections hold no block: the
/// transport waits for data before it rents one, and a pipe returns its blocks once everything in them is consumed.
/// Blocks are pinned (the socket layer needs that) and kept for reuse up to <see cref="MaxRetained"/>; beyond that a
/// returned block is left to the GC, so a burst of many busy connections does not pin its peak forever. Kestrel
/// creates a pool per transport and endpoint, each with its own retention. The cost: a connection with a partial frame
/// waiting pins a 64 KiB block where Kestrel's pool would pin 4 KiB.
/// </summary>
internal sealed class LargeBlockMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 64 * 1024;

    /// <summary>Free blocks kept for reuse (16 MiB at 64 KiB each).</summary>
    public const int MaxRetained = 256;

    // Every live pool, so an idle process can drop what they keep (ReleaseFreeBlocks); weak: a disposed transport's goes.
    private static readonly ConditionalWeakTable<LargeBlockMemoryPool, object?> Pools = new();

    private readonly ConcurrentQueue<Block> _free = new();
    private int _freeCount;
    private bool _disposed;

    public LargeBlockMemoryPool() => Pools.Add(this, null);

    public override int MaxBufferSize => BlockSize;

    /// <summary>
    /// Leaves every pool's free blocks to the GC (<see cref="IdleMemoryTrim"/> calls it before its collection): a burst
    /// leaves up to <see cref="MaxRetained"/> pinned blocks per pool, which no collection can move or give back while
    /// they are kept. Blocks in use are untouched; pools fill again as they are used. Returns the blocks released.
    /// </summary>
    public static int ReleaseFreeBlocks()
    {
        var released = 0;
        foreach (var (pool, _) in Pools)
        {
            while (pool._free.TryDequeue(out _))
            {
                Interlocked.Decrement(ref pool._freeCount);
                released++;
            }
        }

        return released;
    }

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        if (_free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _freeCount);
            block.MarkRented();
            return block;
        }

        return new Block(this);
    }

    protected override void Dispose(bool disposing)
    {
        Volatile.Write(ref _disposed, true);
        _free.Clear();
    }

    private void Return(Block block)
    {
        if (!Volatile.Read(ref _disposed) && Interlocked.Increment(ref _freeCount) <= MaxRetained)
        {
            _free.Enqueue(block);
            return;
        }

        Interlocked.Decrement(ref _freeCount);
    }

    private sealed class Block(LargeBlockMemoryPool pool) : IMemoryOwner<byte>
    {
        private int _rented = 1;

        // Created from the pinned array as pinned memory, so Memory.Pin() takes no GC handle per socket operation.
        public Memory<byte> Memory { get; } = MemoryMarshal.CreateFromPinnedArray(GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true), 0, BlockSize);

        public void MarkRented() => Volatile.Write(ref _rented, 1);

        public void Dispose()
        {
            // A pipe disposes each block once; a second Dispose must not put the block in the pool twice.
            if (Interlocked.Exchange(ref _rented, 0) == 1)
            {
                pool.Return(this);
            }
        }
    }

    /// <summary>Gives Kestrel (its transports and connections) one pool of large blocks each time it asks.</summary>
    internal sealed class Factory : IMemoryPoolFactory<byte>
    {
        public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new LargeBlockMemoryPool();
    }
}
