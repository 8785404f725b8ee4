using System.Buffers.Text;
using System.Diagnostics;

namespace Switchboard.LoadTest;

/// <summary>
/// Delivery latencies of one subscriber in logarithmic buckets (1 % wide), so a fan-out to 1,000 subscribers keeps
/// 1,000 small arrays instead of one sample per delivery; percentiles of the merged buckets are within 1 %. The send
/// time travels in the payload as 16 decimal digits of <see cref="Stopwatch.GetTimestamp"/> (one process, one clock).
/// </summary>
internal sealed class LatencyHistogram
{
    /// <summary>The digits a stamped payload starts with.</summary>
    public const int StampLength = 16;
    private const double BucketsPerE = 100; // bucket = ln(1 + µs) × 100: 1 % apart
    private const int Buckets = 2100; // ln(1 + 10^9 µs) × 100 ≈ 2072: up to 1,000 s
    private readonly long[] _counts = new long[Buckets];

    /// <summary>Deliveries recorded.</summary>
    public long Count { get; private set; }

    /// <summary>Writes <paramref name="timestamp"/> as the stamp at the start of <paramref name="payload"/>.</summary>
    public static void Stamp(Span<byte> payload, long timestamp) =>
        Utf8Formatter.TryFormat(timestamp, payload[..StampLength], out _, new System.Buffers.StandardFormat('D', StampLength));

    /// <summary>Records the delivery of a stamped <paramref name="payload"/> received now (an unstamped one is ignored).</summary>
    public void Record(ReadOnlySpan<byte> payload, long now)
    {
        if (payload.Length < StampLength || !Utf8Parser.TryParse(payload[..StampLength], out long sentAt, out var used) || used != StampLength)
        {
            return;
        }

        var microseconds = Math.Max(0, (now - sentAt) * 1e6 / Stopwatch.Frequency);
        _counts[Math.Min(Buckets - 1, (int)(Math.Log(1 + microseconds) * BucketsPerE))]++;
        Count++;
    }

    /// <summary>The nearest-rank percentile of every histogram's deliveries together, in microseconds, or null when none.</summary>
    public static double? Percentile(IReadOnlyList<LatencyHistogram> histograms, double quantile)
    {
        var total = histograms.Sum(h => h.Count);
        if (total == 0)
        {
            return null;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(quantile * total));
        var seen = 0L;
        for (var bucket = 0; bucket < Buckets; bucket++)
        {
            seen += histograms.Sum(h => h._counts[bucket]);
            if (seen >= rank)
            {
                return Math.Exp((bucket + 0.5) / BucketsPerE) - 1; // the bucket's middle
            }
        }

        return Math.Exp(Buckets / BucketsPerE) - 1;
    }
}
