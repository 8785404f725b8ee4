using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Switchboard.Server.Security;

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
            using var stop = StopFor(context, identity => identity.Rules.Listen(identity, key.Sender, key.Event));
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

                await EndWithNoticeIfAnyAsync(context, stop); // the stop came between two waits
            }
            catch (OperationCanceledException) when (stop.Ending is not null)
            {
                await EndWithNoticeIfAnyAsync(context, stop);
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
            using var stop = StopFor(context, identity => identity.Rules.Listen(identity, null, null));
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

                await EndWithNoticeIfAnyAsync(context, stop); // the stop came between two waits
            }
            catch (OperationCanceledException) when (stop.Ending is not null)
            {
                await EndWithNoticeIfAnyAsync(context, stop);
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

    /// <summary>Ends with the request, with the broker, when the caller's credentials expire (a JWT's <c>exp</c>), or when
    /// a reload removes its identity or refuses it what <paramref name="check"/> asks.</summary>
    private SseStop StopFor(HttpContext context, Func<Identity, SwitchboardException?> check)
    {
        var identity = CallerOf(context).Identity;
        var stop = new SseStop(context.RequestAborted, Stopping, identity?.ExpiresAt is { } expires ? expires - Time.GetUtcNow() : null, identity, check, _liveStops);
        _liveStops.TryAdd(stop, 0);
        return stop;
    }

    /// <summary>After a reload: each open SSE stream carries its identity over, or ends.</summary>
    private void OnSecurityReloaded(ConfiguredAuthenticator authenticator, SecurityOptions security)
    {
        foreach (var stop in _liveStops.Keys)
        {
            stop.Reidentify(authenticator);
        }
    }

    /// <summary>The notice a stream ends with when its credentials expired or a reload refused it: <c>event: sb-error</c>
    /// with the code (<c>token_expired</c>, <c>identity_revoked</c>, <c>forbidden</c>); EventSource reconnects by
    /// itself, and is let in again only with credentials the broker accepts.</summary>
    private static async Task EndWithNoticeIfAnyAsync(HttpContext context, SseStop stop)
    {
        if (stop.Ending is not { } why || context.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        var output = context.Response.BodyWriter;
        output.Write("event: sb-error\ndata: "u8);
        using (var json = new Utf8JsonWriter(output, HttpJson.WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("code", why.Code);
            json.WriteString("message", why.Message);
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
