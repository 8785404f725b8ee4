using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;

namespace Switchboard.Bridge;

internal sealed partial class BridgeWay
{
    /// <summary>Presence is handled in the order the origin bus raised it, by one worker: presence listeners run
    /// inline on the delivering thread and only queue here (few items: one per sender joining or leaving).</summary>
    private readonly Channel<PresenceItem> _presence = Channel.CreateUnbounded<PresenceItem>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, SenderInfo> _known = new(StringComparer.Ordinal);
    private Task _worker = Task.CompletedTask;

    private enum PresenceKind
    {
        Connect,
        Disconnect,
        Resync,
    }

    /// <summary>Lists the origin's senders and makes the mirrors match: mirrors of senders gone are removed, missing
    /// ones made, refused ones retried. Runs after start and after either bus reconnects.</summary>
    public Task ResyncAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_presence.Writer.TryWrite(new PresenceItem(PresenceKind.Resync, null, null, done)))
        {
            done.TrySetCanceled();
        }

        return done.Task;
    }

    /// <summary>Queues a resync without waiting for it.</summary>
    public void RequestResync() => _presence.Writer.TryWrite(new PresenceItem(PresenceKind.Resync, null, null, null));

    private async Task ListenPresenceAsync(CancellationToken cancellationToken)
    {
        var inline = new ListenerOptions { MaxConcurrency = ListenerOptions.Unbounded, ReceiveRetained = false };
        _registrations.Add(await _origin.ListenAsync(null, NameRules.ConnectEvent, OnPresence, inline, cancellationToken));
        _registrations.Add(await _origin.ListenAsync(null, NameRules.DisconnectEvent, OnPresence, inline, cancellationToken));
    }

    private ValueTask OnPresence(BusMessage message, CancellationToken cancellationToken)
    {
        var kind = message.Event == NameRules.ConnectEvent ? PresenceKind.Connect : PresenceKind.Disconnect;
        var info = kind == PresenceKind.Connect ? ReadPresence(message) : null;
        _presence.Writer.TryWrite(new PresenceItem(kind, message.Sender, info, null));
        return default;
    }

    private async Task RunPresenceAsync()
    {
        await Task.Yield();
        await foreach (var item in _presence.Reader.ReadAllAsync())
        {
            if (_stopping.IsCancellationRequested)
            {
                item.Done?.TrySetCanceled();
                continue;
            }

            try
            {
                await ApplyAsync(item);
                item.Done?.TrySetResult();
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                item.Done?.TrySetCanceled();
            }
            catch (Exception ex)
            {
                Fail($"could not apply {item.Kind} {item.Name}", ex);
                item.Done?.TrySetException(ex);
            }
        }
    }

    private Task ApplyAsync(PresenceItem item) => item.Kind switch
    {
        PresenceKind.Connect => OnConnectAsync(item.Name!, item.Info),
        PresenceKind.Disconnect => OnDisconnectAsync(item.Name!),
        _ => SyncAsync(),
    };

    private async Task OnConnectAsync(string name, SenderInfo? info)
    {
        if (Reverse?.OwnsOrClaims(name) == true)
        {
            return; // the reverse direction's mirror: never mirrored back
        }

        if (info is null || IsRequestChosen(name))
        {
            info = await FindSenderAsync(name) ?? info; // presence does not say whether it has a default handler
        }

        if (info is null)
        {
            return;
        }

        _known[name] = info;
        if (ShouldMirror(info))
        {
            await EnsureMirrorAsync(info);
        }
    }

    private async Task OnDisconnectAsync(string name)
    {
        Reverse?.ForgetRetired(name);
        var relevant = _mirrors.ContainsKey(name) || (_known.TryGetValue(name, out var info) && ShouldMirror(info));
        if (relevant)
        {
            await DrainLanesAsync(); // what it triggered before it left (a last will) still crosses, through its mirror
        }

        _known.TryRemove(name, out _);
        if (relevant)
        {
            await RemoveMirrorAsync(name);
        }
    }

    private async Task SyncAsync()
    {
        var senders = await _origin.GetSendersAsync(_stopping.Token);
        var online = senders.Where(s => Reverse?.OwnsOrClaims(s.Name) != true).ToDictionary(s => s.Name, StringComparer.Ordinal);
        foreach (var name in _known.Keys.Where(n => !online.ContainsKey(n)))
        {
            _known.TryRemove(name, out _);
        }

        foreach (var name in _mirrors.Keys.Where(n => !online.ContainsKey(n)).ToList())
        {
            await RemoveMirrorAsync(name); // it left while a bus was away (no #disconnect reached the bridge)
        }

        foreach (var info in online.Values)
        {
            _known[info.Name] = info;
            if (ShouldMirror(info))
            {
                await EnsureMirrorAsync(info);
            }
        }
    }

    /// <summary>Waits (at most <see cref="BridgeOptions.DrainTimeout"/>) until every lane handled what it holds now.</summary>
    private async Task DrainLanesAsync()
    {
        var targets = _lanes.Select(l => l.Target).ToArray();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        deadline.CancelAfter(_bridge.Options.DrainTimeout);
        try
        {
            for (var i = 0; i < _lanes.Length; i++)
            {
                await _lanes[i].WaitHandledAsync(targets[i], deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
        {
            // A lane stuck behind a full far listener: carry on; anything it forwards later for this sender is counted as dropped.
        }
    }

    /// <summary>Reads <c>#connect</c>'s data (<c>{"name","events","requests"}</c>); null when unreadable.</summary>
    private static SenderInfo? ReadPresence(BusMessage message)
    {
        try
        {
            using var document = JsonDocument.Parse(message.Data.Bytes);
            var root = document.RootElement;
            string[] events = [.. root.GetProperty("events").EnumerateArray().Select(e => e.GetString() ?? string.Empty)];
            string[] requests = root.TryGetProperty("requests", out var r) ? [.. r.EnumerateArray().Select(e => e.GetString() ?? string.Empty)] : [];
            return new SenderInfo(message.Sender, events, requests, false);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            return null;
        }
    }

    private readonly record struct PresenceItem(PresenceKind Kind, string? Name, SenderInfo? Info, TaskCompletionSource? Done);
}
