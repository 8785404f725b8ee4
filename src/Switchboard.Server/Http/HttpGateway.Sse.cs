using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Switchboard.Server.Http;

/// <summary>The SSE endpoints: <c>/events</c> (bus messages, with <c>Last-Event-ID</c> resume) and <c>/dashboard/stream</c>.</summary>
internal sealed partial class HttpGateway
{
    private static readonly byte[] KeepAlive = ": keep-alive\n\n"u8.ToArray();

    /// <summary>
    /// <c>GET /events?sender=S&amp;event=E</c>: a comment line and <c>retry:</c> first; then, if the client resumes
    /// (<c>Last-Event-ID</c> header or <c>lastEventId</c> query), every message of the stream after that id, preceded by
    /// an <c>sb-gap</c> event when some are no longer held; then each new message as it comes, and a keep-alive comment
    /// whenever the stream was quiet for <see cref="HttpGatewayOptions.SseKeepAlive"/>.
    /// </summary>
    private async Task EventsAsync(HttpContext context)
    {
        var key = ReadStreamKey(context);
        var (resume, unparsable) = ReadLastEventId(context);
        var address = EnterSseClient(context);
        try
        {
            var (stream, live) = Streams.Join(key);
            using var stop = StopFor(context);
            try
            {
                await stream.Started;
                var output = await StartSseAsync(context, $"switchboard events {key}", stop.Token);
                var batch = new List<SseEntry>(256);
                var position = resume ?? live;
                if (unparsable)
                {
                    WriteGap(output, new SseGap(null, null, null, "unknown_id"));
                    await output.FlushAsync(stop.Token);
                }

                while (!stop.IsCancellationRequested)
                {
                    batch.Clear();
                    var from = stream.ReadAfter(position, batch, out var gap);
                    if (gap is { } missed)
                    {
                        WriteGap(output, missed);
                        if (missed.Count is { } count)
                        {
                            Metrics.AddSseHistoryOverrun(count);
                        }
                    }

                    position = from;
                    foreach (var entry in batch)
                    {
                        output.Write(entry.Frame);
                        position = entry.Seq;
                    }

                    if (gap is not null || batch.Count > 0)
                    {
                        Metrics.AddMessagesOut(batch.Count);
                        if ((await output.FlushAsync(stop.Token)).IsCompleted)
                        {
                            return;
                        }

                        continue;
                    }

                    if (!await WaitOrKeepAliveAsync(stream.ChangedAfter(position), output, stop.Token))
                    {
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (stop.Expired && !context.RequestAborted.IsCancellationRequested)
            {
                await EndExpiredAsync(context);
            }
            finally
            {
                Streams.Leave(stream);
            }
        }
        finally
        {
            ExitSseClient(address);
        }
    }

    /// <summary>The id to resume after (<c>Last-Event-ID</c>, or <c>?lastEventId=</c> for clients that cannot set
    /// headers), and whether one was given that is not an id.</summary>
    private static (long? Resume, bool Unparsable) ReadLastEventId(HttpContext context)
    {
        var lastEventId = context.Request.Headers["Last-Event-ID"].ToString();
        if (lastEventId.Length == 0)
        {
            lastEventId = context.Request.Query["lastEventId"].ToString();
        }

        if (lastEventId.Length == 0)
        {
            return (null, false);
        }

        return long.TryParse(lastEventId.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? (id, false) : (null, true);
    }

    /// <summary><c>GET /dashboard/stream</c>: an <c>event: snapshot</c> with the bus's state as JSON every
    /// <see cref="HttpGatewayOptions.DashboardInterval"/> and at once when a sender connects or leaves.</summary>
    private async Task DashboardStreamAsync(HttpContext context)
    {
        Require(context, (identity, rules) => rules.Listen(identity, null, null)); // it shows the whole bus's traffic
        var address = EnterSseClient(context);
        try
        {
            var session = _dashboard.Join();
            using var stop = StopFor(context);
            try
            {
                var output = await StartSseAsync(context, "switchboard dashboard", stop.Token);
                long seen = 0;
                while (!stop.IsCancellationRequested)
                {
                    var (version, frame) = session.Latest;
                    if (version > seen)
                    {
                        seen = version;
                        output.Write(frame);
                        if ((await output.FlushAsync(stop.Token)).IsCompleted)
                        {
                            return;
                        }

                        continue;
                    }

                    if (!await WaitOrKeepAliveAsync(session.ChangedAfter(seen), output, stop.Token))
                    {
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (stop.Expired && !context.RequestAborted.IsCancellationRequested)
            {
                await EndExpiredAsync(context);
            }
            finally
            {
                _dashboard.Leave();
            }
        }
        finally
        {
            ExitSseClient(address);
        }
    }

    /// <summary>Ends with the request, with the broker, or when the caller's credentials expire (a JWT's <c>exp</c>).</summary>
    private SseStop StopFor(HttpContext context) => new(context.RequestAborted, Stopping, CallerOf(context).Identity?.ExpiresAt is { } expires ? expires - Time.GetUtcNow() : null);

    /// <summary>What ends an SSE stream; <see cref="Expired"/> tells the credentials' expiry from the other reasons.</summary>
    private sealed class SseStop : IDisposable
    {
        private readonly CancellationTokenSource? _expiry;
        private readonly CancellationTokenSource _stop;

        public SseStop(CancellationToken request, CancellationToken broker, TimeSpan? untilExpiry)
        {
            if (untilExpiry is { } delay)
            {
                _expiry = new CancellationTokenSource(TimeSpan.FromTicks(Math.Clamp(delay.Ticks, 0, TimeSpan.FromDays(24).Ticks)));
            }

            _stop = CancellationTokenSource.CreateLinkedTokenSource(request, broker, _expiry?.Token ?? CancellationToken.None);
        }

        public CancellationToken Token => _stop.Token;

        public bool IsCancellationRequested => _stop.IsCancellationRequested;

        public bool Expired => _expiry?.IsCancellationRequested == true;

        public void Dispose()
        {
            _stop.Dispose();
            _expiry?.Dispose();
        }
    }

    /// <summary>The notice a stream ends with when its credentials expired: <c>event: sb-error</c> with the code
    /// <c>token_expired</c> (EventSource reconnects by itself; it needs a fresh token in its URL to be let in).</summary>
    private static async Task EndExpiredAsync(HttpContext context)
    {
        var output = context.Response.BodyWriter;
        output.Write("event: sb-error\ndata: "u8);
        using (var json = new Utf8JsonWriter(output, HttpJson.WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("code", ErrorCodes.TokenExpired);
            json.WriteString("message", $"The credentials of '{CallerOf(context).Identity!.Name}' expired; reconnect with fresh ones.");
            json.WriteEndObject();
        }

        output.Write("\n\n"u8);
        await output.FlushAsync(context.RequestAborted);
    }

    /// <summary>Sends the headers (unbuffered), a comment line and <c>retry:</c>.</summary>
    private async Task<PipeWriter> StartSseAsync(HttpContext context, string comment, CancellationToken cancellationToken)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache, no-transform";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.StartAsync(cancellationToken);
        var output = response.BodyWriter;
        output.Write(Encoding.UTF8.GetBytes($": {comment}\nretry: {(long)Options.SseRetry.TotalMilliseconds}\n\n"));
        await output.FlushAsync(cancellationToken);
        return output;
    }

    /// <summary>Waits for <paramref name="changed"/>; when the wait outlasts the keep-alive interval, writes a comment.
    /// False when the client is gone.</summary>
    private async Task<bool> WaitOrKeepAliveAsync(Task changed, PipeWriter output, CancellationToken cancellationToken)
    {
        try
        {
            await changed.WaitAsync(Options.SseKeepAlive, Time, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            output.Write(KeepAlive);
            return !(await output.FlushAsync(cancellationToken)).IsCompleted;
        }
    }

    /// <summary><c>event: sb-gap</c>, without an id (the client's last id stays the last message it really got).</summary>
    private static void WriteGap(PipeWriter output, SseGap gap)
    {
        output.Write("event: sb-gap\ndata: "u8);
        using (var json = new Utf8JsonWriter(output, HttpJson.WriterOptions))
        {
            json.WriteStartObject();
            WriteNumberOrNull(json, "missed_from", gap.From);
            WriteNumberOrNull(json, "missed_to", gap.To);
            WriteNumberOrNull(json, "count", gap.Count);
            json.WriteString("reason", gap.Reason);
            json.WriteEndObject();
        }

        output.Write("\n\n"u8);

        static void WriteNumberOrNull(Utf8JsonWriter json, string name, long? value)
        {
            if (value is { } number)
            {
                json.WriteNumber(name, number);
            }
            else
            {
                json.WriteNull(name);
            }
        }
    }
}
