using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;

namespace Switchboard.Server.Security;

/// <summary>
/// Slows down an address that keeps presenting wrong credentials: each wrong one takes a token from that address's bucket
/// (<see cref="SecurityOptions.AuthFailureBurst"/> tokens, one back every <see cref="SecurityOptions.AuthFailureRefill"/>);
/// while its bucket is empty, the address is refused without its credentials being checked, so guessing goes no faster
/// than one try per refill however many connections it opens. IPv6 addresses count per /64 (one host holds a whole
/// /64). Addresses without failures cost nothing; idle buckets are dropped by the limiter.
/// </summary>
internal sealed class AuthThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<IPAddress> _failures;
    private readonly TimeSpan _refill;

    public AuthThrottle(int burst, TimeSpan refill)
    {
        if (burst < 1 || refill <= TimeSpan.Zero)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"Security.AuthFailureBurst must be at least 1 and AuthFailureRefill more than zero (got {burst} and {refill}).");
        }

        _refill = refill;
        _failures = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address => RateLimitPartition.GetTokenBucketLimiter(Partition(address), _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = refill,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    /// <summary>The refusal for an address that failed too often lately; null when it may try.</summary>
    public string? Refusal(IPAddress? address)
    {
        if (address is null)
        {
            return null;
        }

        // Not AttemptAcquire(address, 0): the partitioned limiter grants that even from an empty bucket.
        return _failures.GetStatistics(address) is not { CurrentAvailablePermits: 0 } ? null : $"Too many refused credentials from {address} lately; it may try again in about {_refill.TotalSeconds:0.#} s (Security.AuthFailureBurst, AuthFailureRefill).";
    }

    /// <summary>Counts one refused credential from <paramref name="address"/>.</summary>
    public void Failed(IPAddress? address)
    {
        if (address is not null)
        {
            using var _ = _failures.AttemptAcquire(address, 1);
        }
    }

    private static IPAddress Partition(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes);
    }

    public void Dispose() => _failures.Dispose();
}
