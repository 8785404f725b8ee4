using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Switchboard.Server.Http;

/// <summary>
/// The SSE streams of one gateway, by <see cref="StreamKey"/>: a stream is opened by its first client, kept while it has
/// clients and for <see cref="HttpGatewayOptions.SseStreamGrace"/> after the last one left (so a client that reconnects
/// finds what was published meanwhile), and at most <see cref="HttpGatewayOptions.MaxSseStreams"/> live at once.
/// </summary>
internal sealed class SseStreams : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<StreamKey, SseStream> _streams = [];
    private readonly IBus _bus;
    private readonly HttpGatewayOptions _options;
    private readonly BrokerMetrics _metrics;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly ITimer _reaper;
    private long _highWater;
    private bool _disposed;

    public SseStreams(IBus bus, HttpGatewayOptions options, BrokerMetrics metrics, ILogger log, TimeProvider time)
    {
        _bus = bus;
        _options = options;
        _metrics = metrics;
        _log = log;
        _time = time;
        var period = TimeSpan.FromTicks(Math.Clamp(options.SseStreamGrace.Ticks / 4, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(5).Ticks));
        _reaper = time.CreateTimer(_ => Reap(), null, period, period);
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _streams.Count;
            }
        }
    }

    /// <summary>The streams alive now (for the dashboard).</summary>
    public SseStream[] Snapshot()
    {
        lock (_lock)
        {
            return [.. _streams.Values];
        }
    }

    /// <summary>
    /// Joins the stream of <paramref name="key"/> as one more client, opening it if needed. Returns the stream and the
    /// position a client without <c>Last-Event-ID</c> starts from (a new stream's client also gets the retained values
    /// its listener receives on registering). Each call must be paired with <see cref="Leave"/>.
    /// </summary>
    public (SseStream Stream, long Live) Join(StreamKey key)
    {
        SseStream? stream;
        SseStream? evicted = null;
        long live;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_streams.TryGetValue(key, out stream))
            {
                stream.Clients++;
                return (stream, stream.LastSeq);
            }

            if (_streams.Count >= _options.MaxSseStreams)
            {
                evicted = _streams.Values.Where(s => s.Clients == 0).MinBy(s => s.IdleSince)
                    ?? throw new HttpGatewayException(StatusCodes.Status503ServiceUnavailable, ErrorCodes.TooMany, $"This broker already serves {_options.MaxSseStreams} SSE streams with clients (HttpGatewayOptions.MaxSseStreams); reuse an existing sender/event query or try later.");
                Retire(evicted);
            }

            // Above every id any stream of this gateway gave, and above the Unix time in microseconds (so above the ids
            // of an earlier broker too, unless it gave more than a million ids a second).
            var first = Math.Max(_highWater + 1, _time.GetUtcNow().ToUnixTimeMilliseconds() * 1000);
            _highWater = first;
            stream = new SseStream(key, first, _options, _metrics, _log, _time) { Clients = 1 };
            _streams.Add(key, stream);
            live = first - 1;
        }

        if (evicted is not null)
        {
            _log.StreamRetired(evicted.Key.ToString(), "evicted for a new stream");
            _ = evicted.StopAsync();
        }

        _ = stream.StartAsync(_bus);
        return (stream, live);
    }

    /// <summary>One client of <paramref name="stream"/> left.</summary>
    public void Leave(SseStream stream)
    {
        var retire = false;
        lock (_lock)
        {
            stream.Clients--;
            stream.IdleSince = _time.GetTimestamp();
            if (stream.Clients == 0 && (stream.Started.IsFaulted || _options.SseStreamGrace == TimeSpan.Zero) && _streams.TryGetValue(stream.Key, out var current) && current == stream)
            {
                Retire(stream);
                retire = true;
            }
        }

        if (retire)
        {
            _log.StreamRetired(stream.Key.ToString(), "no client left");
            _ = stream.StopAsync();
        }
    }

    private void Reap()
    {
        List<SseStream> idle;
        lock (_lock)
        {
            idle = [.. _streams.Values.Where(s => s.Clients == 0 && _time.GetElapsedTime(s.IdleSince) >= _options.SseStreamGrace)];
            foreach (var stream in idle)
            {
                Retire(stream);
            }
        }

        foreach (var stream in idle)
        {
            _log.StreamRetired(stream.Key.ToString(), "grace period over");
            _ = stream.StopAsync();
        }
    }

    /// <summary>Removes a stream (under the lock), remembering its last id so no later stream reuses it.</summary>
    private void Retire(SseStream stream)
    {
        _streams.Remove(stream.Key);
        _highWater = Math.Max(_highWater, stream.LastSeq);
    }

    public async ValueTask DisposeAsync()
    {
        SseStream[] streams;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            streams = [.. _streams.Values];
            _streams.Clear();
        }

        await _reaper.DisposeAsync();
        await Task.WhenAll(streams.Select(s => s.StopAsync()));
    }
}
