using System.Runtime.InteropServices;

namespace Switchboard.Server;

/// <summary>
/// Gives memory back to the operating system once a process is quiet again after a burst (an attacker cut, thousands of
/// connections gone): a process that allocates little does not collect, so what the burst left would stay resident.
/// Every <see cref="CheckInterval"/> it looks at what was allocated meanwhile and at the working set. When allocation was
/// low and the process used little CPU (a broker routing millions of messages allocates nothing, so allocation alone does
/// not tell a busy broker from an idle one), it drops the transports' free pinned blocks and runs one compacting,
/// decommitting full collection if the working set grew <see cref="GrowthBytes"/> since the last trim, or stands that much
/// above the lowest a trim ever reached (what a peer that left held is garbage no collection has looked at yet), and once
/// more <see cref="FollowUpChecks"/> quiet checks after a trim. A trim that gives little back (the memory is live: retained
/// values, open connections) doubles the wait before the next one for standing above the lowest, up to
/// <see cref="MaxBackoff"/>, so a quiet broker holding real state is not collected over and over.
/// Process-wide (collections are), so only a process that is only a broker starts it (<c>switchboard serve</c> does).
/// </summary>
public sealed partial class IdleMemoryTrim : IAsyncDisposable
{
    /// <summary>How often the process is looked at.</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(2);

    /// <summary>Allocated between two checks below this, the process counts as quiet.</summary>
    public const long QuietBytes = 16L << 20;

    /// <summary>Quiet checks after a trim at which one more runs, whatever the growth.</summary>
    public const int FollowUpChecks = 5;

    /// <summary>CPU time used between two checks below this share of the interval (of one core), the process counts as quiet.</summary>
    public const double QuietCpuShare = 0.05;

    /// <summary>Growth of the working set since the last trim that makes a trim worth its pause.</summary>
    public const long GrowthBytes = 8L << 20;

    /// <summary>The longest wait between two trims for standing above the lowest working set.</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(64);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _baseline = Environment.WorkingSet;
    private long _lowest = long.MaxValue;
    private TimeSpan _backoff = CheckInterval;
    private long _nextAboveLowest;
    private int _trims;
    private int _followUp;
    private bool _noMallocTrim;

    private IdleMemoryTrim() => _loop = RunAsync();

    /// <summary>How many trims ran.</summary>
    public int Trims => Volatile.Read(ref _trims);

    /// <summary>Starts looking; dispose to stop.</summary>
    public static IdleMemoryTrim Start() => new();

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(CheckInterval);
        var allocated = GC.GetTotalAllocatedBytes();
        var cpu = Environment.CpuUsage.TotalTime;
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                var now = GC.GetTotalAllocatedBytes();
                var cpuNow = Environment.CpuUsage.TotalTime;
                var quiet = now - allocated < QuietBytes && (cpuNow - cpu).TotalSeconds < QuietCpuShare * CheckInterval.TotalSeconds;
                allocated = now;
                cpu = cpuNow;
                TrimIfWorthIt(quiet);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void TrimIfWorthIt(bool quiet)
    {
        var workingSet = Environment.WorkingSet;
        if (workingSet < _baseline)
        {
            _baseline = workingSet; // shrank by itself: measure growth from here
        }

        if (!quiet)
        {
            return;
        }

        // What a burst leaves is often released a little after its end (a cut peer's buffers, a sender's retained values
        // that end with it): one trim FollowUpChecks quiet checks after a trim catches it even without new growth.
        var followUp = _followUp > 0 && --_followUp == 0;
        var grew = workingSet >= _baseline + GrowthBytes;
        var aboveLowest = workingSet >= _lowest + GrowthBytes && Environment.TickCount64 >= _nextAboveLowest;
        if (!followUp && !grew && !aboveLowest)
        {
            return;
        }

        _followUp = followUp ? 0 : FollowUpChecks;
        Trim();
        var after = Environment.WorkingSet;
        // Little given back: what stands above the lowest is live, so look again later, and later still after that.
        _backoff = workingSet - after < GrowthBytes / 2 ? TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, MaxBackoff.Ticks)) : CheckInterval;
        _nextAboveLowest = Environment.TickCount64 + (long)_backoff.TotalMilliseconds;
        _baseline = after;
        _lowest = Math.Min(_lowest, after);
        Interlocked.Increment(ref _trims);
    }

    private void Trim()
    {
        LargeBlockMemoryPool.ReleaseFreeBlocks(); // pinned: kept, they could be neither moved nor given back
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        if (OperatingSystem.IsLinux() && !_noMallocTrim)
        {
            // What sockets and the runtime allocated natively and freed stays in glibc's arenas until trimmed.
            try
            {
                _ = MallocTrim(0);
            }
            catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
            {
                _noMallocTrim = true; // not glibc (musl, say): the collection alone has to do
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
