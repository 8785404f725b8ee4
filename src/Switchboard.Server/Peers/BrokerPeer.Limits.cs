using System.Threading.RateLimiting;

namespace Switchboard.Server;

/// <summary>What one peer may hold and how fast it may ask: each a <see cref="BrokerOptions"/> setting, refused with
/// <c>too_many</c> naming it; the connection and what it holds stay.</summary>
internal abstract partial class BrokerPeer
{
    private TokenBucketRateLimiter? _requests;

    /// <summary>Refuses one more of <paramref name="what"/> when the peer already holds <paramref name="max"/>.</summary>
    protected static void EnsureRoom(int held, int max, string what, string setting)
    {
        if (held >= max)
        {
            throw new SwitchboardException(ErrorCodes.TooMany, $"This connection already holds {held} {what}, the most {setting} allows; remove some first.");
        }
    }

    /// <summary>Counts one request, gather or sender list against <see cref="BrokerOptions.MaxRequestsPerSecond"/>;
    /// throws <c>too_many</c> when the peer asks faster.</summary>
    protected void AdmitRequest()
    {
        if (Broker.Options.MaxRequestsPerSecond is not { } rate)
        {
            return;
        }

        var limiter = _requests ??= new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = rate,
            TokensPerPeriod = Math.Max(1, rate / 10),
            ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
        using var lease = limiter.AttemptAcquire();
        if (!lease.IsAcquired)
        {
            throw new SwitchboardException(ErrorCodes.TooMany, $"This connection asks faster than {rate} requests per second (BrokerOptions.MaxRequestsPerSecond, counting requests, gathers and sender lists); slow down.");
        }
    }

    /// <summary>Releases the limiter's timer with the connection.</summary>
    private void DisposeLimits() => _requests?.Dispose();
}
