using System.Collections.Concurrent;

namespace Switchboard.Bridge;

internal sealed partial class BridgeWay
{
    private readonly ConcurrentDictionary<string, Mirror> _mirrors = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _owned = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _claiming = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _retired = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>True when <paramref name="name"/> is one of this direction's registered mirrors on the far bus.</summary>
    public bool OwnsName(string name) => _owned.ContainsKey(name);

    /// <summary>True when <paramref name="name"/> on the far bus is, is becoming, or just was one of this direction's
    /// mirrors (its presence must not be mirrored back).</summary>
    public bool OwnsOrClaims(string name) => _owned.ContainsKey(name) || _claiming.ContainsKey(name) || _retired.ContainsKey(name);

    /// <summary>The reverse direction saw the <c>#disconnect</c> of a retired mirror: a sender of that name is real again.</summary>
    public void ForgetRetired(string name) => _retired.TryRemove(name, out _);

    public IEnumerable<BridgeMirror> Snapshot() =>
        _mirrors.Values.Select(m => new BridgeMirror(Direction, m.Info.Name, m.FarName, m.Info.Events, m.Requests, m.Error));

    /// <summary>The mirror of <paramref name="origin"/>, made now if the presence listener has not made it yet.</summary>
    private async ValueTask<Mirror?> MirrorForAsync(string origin)
    {
        if (_mirrors.TryGetValue(origin, out var mirror))
        {
            return mirror;
        }

        var info = _known.TryGetValue(origin, out var known) ? known : await FindSenderAsync(origin);
        return info is null ? null : await EnsureMirrorAsync(info);
    }

    private async Task<SenderInfo?> FindSenderAsync(string name)
    {
        try
        {
            var senders = await _origin.GetSendersAsync(_stopping.Token);
            return senders.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.Ordinal));
        }
        catch (SwitchboardException ex)
        {
            Fail($"could not list the origin's senders to mirror '{name}'", ex);
            return null;
        }
    }

    /// <summary>Makes sure the far bus has a mirror for <paramref name="info"/>: keeps one that matches, retries one that
    /// was refused, replaces one whose events or requests changed.</summary>
    private async ValueTask<Mirror?> EnsureMirrorAsync(SenderInfo info)
    {
        await _gate.WaitAsync(_stopping.Token);
        try
        {
            if (_mirrors.TryGetValue(info.Name, out var existing))
            {
                if (existing.Error is null && existing.Declares(info))
                {
                    return existing;
                }

                _mirrors.TryRemove(info.Name, out _);
                await RetireAsync(existing);
            }

            var mirror = await RegisterMirrorAsync(info);
            _mirrors[info.Name] = mirror;
            return mirror;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<Mirror> RegisterMirrorAsync(SenderInfo info)
    {
        var farName = _route.NamePrefix + info.Name;
        var chosen = IsRequestChosen(info.Name);
        var origin = info.Name;
        RequestHandler forward = (request, ct) => ForwardRequestAsync(origin, request, ct);
        var handlers = chosen ? info.Requests.ToDictionary(r => r, _ => forward, StringComparer.Ordinal) : null;
        var options = new SenderOptions { DefaultRequestHandler = chosen && info.HasDefaultHandler ? forward : null };
        string[] requests = chosen ? [.. info.Requests, .. info.HasDefaultHandler ? ["*"] : Array.Empty<string>()] : [];
        _claiming[farName] = 0;
        try
        {
            var sender = await _far.AddSenderAsync(farName, info.Events, handlers, options, _stopping.Token);
            _owned[farName] = 0;
            _retired.TryRemove(farName, out _);
            return new Mirror(info, farName, requests, sender, null);
        }
        catch (SwitchboardException ex)
        {
            if (ex.Code == ErrorCodes.SenderExists)
            {
                Counters.AddClash();
                _bridge.Report(new SwitchboardException(ex.Code, $"Bridge '{_bridge.Name}' ({Direction}) cannot mirror sender '{info.Name}' as '{farName}': the far bus already has a sender of that name, which keeps it. Give this direction a BridgeRoute.NamePrefix. ({ex.Message})", ex));
                Reverse?.RequestResync(); // the name may belong to a real far sender the reverse direction took for ours
            }
            else
            {
                Fail($"could not mirror sender '{info.Name}' as '{farName}'", ex);
            }

            return new Mirror(info, farName, requests, null, ex.Message);
        }
        finally
        {
            _claiming.TryRemove(farName, out _);
        }
    }

    private async ValueTask<Payload> ForwardRequestAsync(string origin, BusRequest request, CancellationToken cancellationToken)
    {
        if (BridgeStamp.Crossed(request.Headers, _bridge.Name))
        {
            Counters.AddSkipped();
            throw new SwitchboardException(ErrorCodes.HandlerError, $"Bridge '{_bridge.Name}' already forwarded this request once (a loop of bridges).");
        }

        Counters.AddRequest();
        try
        {
            var headers = BridgeStamp.Stamp(request.Headers, origin, _bridge.Name);
            return await _origin.RequestAsync(origin, request.Name, request.Data, _bridge.Options.RequestTimeout, headers, cancellationToken);
        }
        catch (Exception)
        {
            Counters.AddRequestFailed();
            throw;
        }
    }

    /// <summary>Removes the mirror of <paramref name="origin"/> from the far bus (its <c>#disconnect</c> shows there).</summary>
    private async Task RemoveMirrorAsync(string origin)
    {
        await _gate.WaitAsync(_stopping.Token);
        try
        {
            if (_mirrors.TryRemove(origin, out var mirror))
            {
                await RetireAsync(mirror);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task RetireAsync(Mirror mirror)
    {
        if (mirror.Sender is null)
        {
            return;
        }

        if (Reverse is not null)
        {
            _retired[mirror.FarName] = 0; // until the reverse direction sees its #disconnect
        }

        _owned.TryRemove(mirror.FarName, out _);
        try
        {
            await mirror.Sender.DisposeAsync();
        }
        catch (Exception ex) when (ex is SwitchboardException or ObjectDisposedException)
        {
            // The far bus is gone or closing: the mirror went with it.
        }
    }

    private async Task RetireAllAsync()
    {
        await _gate.WaitAsync();
        try
        {
            foreach (var origin in _mirrors.Keys)
            {
                if (_mirrors.TryRemove(origin, out var mirror))
                {
                    await RetireAsync(mirror);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private bool IsRequestChosen(string origin) =>
        _route.RequestSenders.Any(s => s == "*" || string.Equals(s, origin, StringComparison.Ordinal));

    /// <summary>Whether an origin sender concerns this direction: its requests are chosen, a filter names it, or a
    /// filter for any sender may match one of the events it declared.</summary>
    private bool ShouldMirror(SenderInfo info)
    {
        if (IsRequestChosen(info.Name))
        {
            return true;
        }

        foreach (var filter in _route.Events)
        {
            if (filter.Sender is not null)
            {
                if (string.Equals(filter.Sender, info.Name, StringComparison.Ordinal))
                {
                    return true;
                }

                continue;
            }

            if (filter.Event is null || info.Events.Any(e => EventPattern.Overlaps(filter.Event, e)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A mirror sender on the far bus (<see cref="Sender"/> null when the far bus refused it, with <see cref="Error"/>).</summary>
    private sealed record Mirror(SenderInfo Info, string FarName, IReadOnlyList<string> Requests, ISender? Sender, string? Error)
    {
        public bool Declares(SenderInfo info) =>
            Info.Events.SequenceEqual(info.Events, StringComparer.Ordinal) && Info.Requests.SequenceEqual(info.Requests, StringComparer.Ordinal);
    }
}
