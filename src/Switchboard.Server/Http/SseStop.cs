using System.Collections.Concurrent;
using Switchboard.Server.Security;

namespace Switchboard.Server.Http;

/// <summary>What ends one SSE request: the request, the broker, the caller's credentials expiring, or a reload that
/// removed its identity or now refuses it the stream. <see cref="Ending"/> says which of the last three, for the notice.</summary>
internal sealed class SseStop : IDisposable
{
    private readonly CancellationTokenSource? _expiry;
    private readonly CancellationTokenSource _revoked = new();
    private readonly CancellationTokenSource _stop;
    private readonly Func<Identity, SwitchboardException?> _check;
    private readonly ConcurrentDictionary<SseStop, byte> _live;
    private Identity? _identity;
    private volatile string? _revokedMessage;
    private volatile string? _revokedCode; // written after the message, so a reader that sees it sees both

    /// <param name="request">The request's abort.</param>
    /// <param name="broker">The broker stopping.</param>
    /// <param name="untilExpiry">How long the credentials are valid; null: no expiry.</param>
    /// <param name="identity">Who opened the stream; null when the broker checks no credentials.</param>
    /// <param name="check">What the stream needs the identity's rules to allow (null: allowed).</param>
    /// <param name="live">The gateway's open streams, which a reload walks; this one leaves it when disposed.</param>
    public SseStop(CancellationToken request, CancellationToken broker, TimeSpan? untilExpiry, Identity? identity, Func<Identity, SwitchboardException?> check, ConcurrentDictionary<SseStop, byte> live)
    {
        if (untilExpiry is { } delay)
        {
            _expiry = new CancellationTokenSource(TimeSpan.FromTicks(Math.Clamp(delay.Ticks, 0, TimeSpan.FromDays(24).Ticks)));
        }

        _stop = CancellationTokenSource.CreateLinkedTokenSource(request, broker, _expiry?.Token ?? CancellationToken.None, _revoked.Token);
        (_identity, _check, _live) = (identity, check, live);
    }

    public CancellationToken Token => _stop.Token;

    public bool IsCancellationRequested => _stop.IsCancellationRequested;

    /// <summary>Why the stream ends with a notice (credentials expired, or a reload refused it); null for the other ends.</summary>
    public (string Code, string Message)? Ending =>
        _revokedCode is { } code ? (code, _revokedMessage!)
        : _expiry?.IsCancellationRequested == true ? (ErrorCodes.TokenExpired, $"The credentials of '{_identity!.Name}' expired; reconnect with fresh ones.")
        : null;

    /// <summary>Carries the stream over to a reloaded configuration, or ends it with the reason.</summary>
    public void Reidentify(ConfiguredAuthenticator authenticator)
    {
        if (Volatile.Read(ref _identity) is not { } current)
        {
            return;
        }

        var (next, code, why) = authenticator.Reconsider(current, _check, "this stream", "this stream");
        if (next is not null)
        {
            Volatile.Write(ref _identity, next);
            return;
        }

        _revokedMessage = why;
        _revokedCode = code;
        try
        {
            _revoked.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // the stream ended meanwhile
        }
    }

    public void Dispose()
    {
        _live.TryRemove(this, out _);
        _stop.Dispose();
        _expiry?.Dispose();
        _revoked.Dispose();
    }
}
