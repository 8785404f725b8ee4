using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Switchboard.Routing;
using Switchboard.Server.Security;

namespace Switchboard.Server.Http;

/// <summary>The JSON endpoints: publish, request, gather, senders, metrics, and the dashboard's files.</summary>
internal sealed partial class HttpGateway
{
    private const string PublishExample = """{"sender":"s1","event":"tick","data":5}""";
    private const string SenderExample = """{"name":"s1","events":["tick","#temp"]}""";
    private const string RequestExample = """{"sender":"s1","request":"get_ticks","data":null,"timeout_ms":1000}""";
    private const string GatherExample = """{"topic":"topic1","data":null,"ttl_ms":300}""";

    private static readonly TimeSpan DefaultGatherTtl = TimeSpan.FromSeconds(1);

    /// <summary>Maps every endpoint of the gateway.</summary>
    public void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/events", Handle("/events", EventsAsync));
        app.MapGet("/dashboard/stream", Handle("/dashboard/stream", DashboardStreamAsync));
        app.MapPost("/publish", Handle("/publish", PublishAsync));
        app.MapPost("/request", Handle("/request", RequestAsync));
        app.MapPost("/gather", Handle("/gather", GatherAsync));
        app.MapGet("/senders", Handle("/senders", ListSendersAsync));
        app.MapPost("/senders", Handle("/senders", AddSenderAsync));
        app.MapDelete("/senders/{name}", Handle("/senders/{name}", RemoveSenderAsync));
        app.MapGet("/metrics", Handle("/metrics", MetricsAsync, open: true));
        app.MapGet("/", Handle("/", context => FileAsync(context, "index.html"), open: true));
        app.MapGet("/dashboard/{file}", Handle("/dashboard/{file}", context => FileAsync(context, context.Request.RouteValues["file"] as string ?? string.Empty), open: true));
    }

    /// <summary>Wraps a handler: credentials (unless <paramref name="open"/>), errors as <c>{"error":{...}}</c> with their
    /// status, unexpected failures logged and answered 500, and every answer counted by endpoint and status.</summary>
    private RequestDelegate Handle(string endpoint, Func<HttpContext, Task> handler, bool open = false) => async context =>
    {
        try
        {
            if (!open)
            {
                if (Broker.IsShuttingDown)
                {
                    throw new HttpGatewayException(StatusCodes.Status503ServiceUnavailable, ErrorCodes.GoingAway, "This broker is shutting down; use another one.");
                }

                context.Items[typeof(Caller)] = await AuthenticateAsync(context);
            }

            await handler(context);
        }
        catch (HttpGatewayException ex)
        {
            await FailAsync(context, ex.Status, ex.Code, ex.Message);
        }
        catch (SwitchboardException ex)
        {
            await FailAsync(context, HttpJson.StatusOf(ex.Code), ex.Code, ex.Message);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested || Stopping.IsCancellationRequested)
        {
            // The caller left, or the broker is stopping: nobody to answer.
        }
        catch (Exception ex) when (context.RequestAborted.IsCancellationRequested && ex is OperationCanceledException or IOException or BadHttpRequestException)
        {
            // The caller hung up midway (while its body was read, or while waiting): nobody to answer.
        }
        catch (Exception ex) when (Stopping.IsCancellationRequested && ex is ObjectDisposedException or OperationCanceledException)
        {
            await FailAsync(context, StatusCodes.Status503ServiceUnavailable, ErrorCodes.GoingAway, "This broker is shutting down; use another one.");
        }
        catch (BadHttpRequestException ex)
        {
            await FailAsync(context, ex.StatusCode, ex.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => ErrorCodes.BodyTooLarge,
                StatusCodes.Status408RequestTimeout => ErrorCodes.BodyTimeout,
                _ => ErrorCodes.BadRequest,
            }, ex.Message);
        }
        catch (IOException ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            // Kestrel reports some malformed bodies (an overflowing chunk size) as an IOException, not a bad request.
            await FailAsync(context, StatusCodes.Status400BadRequest, ErrorCodes.BadRequest, $"The request body could not be read: {ex.Message}");
        }
        catch (Exception ex)
        {
            Log.GatewayFailed(ex, context.Request.Method, context.Request.Path);
            await FailAsync(context, StatusCodes.Status500InternalServerError, ErrorCodes.InternalError, "The broker failed to handle this call; it is logged. The broker goes on serving.");
        }
        finally
        {
            Metrics.CountResponse(endpoint, context.Response.StatusCode);
        }
    };

    private static async Task FailAsync(HttpContext context, int status, string code, string message)
    {
        if (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            try
            {
                await HttpJson.WriteErrorAsync(context, status, code, message);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
            }
        }
    }

    private static Caller CallerOf(HttpContext context) => (Caller)context.Items[typeof(Caller)]!;

    /// <summary>Throws 403 <c>forbidden</c> (naming the rule) when the caller's permissions refuse what
    /// <paramref name="check"/> asks; a broker that checks no credentials refuses nothing.</summary>
    private static void Require(HttpContext context, Func<Identity, PermissionSet, SwitchboardException?> check)
    {
        if (CallerOf(context).Identity is { } identity && check(identity, identity.Rules) is { } forbidden)
        {
            throw forbidden;
        }
    }

    private async Task AddSenderAsync(HttpContext context)
    {
        using var document = await HttpJson.ReadObjectAsync(context, Options.MaxBodyBytes, SenderExample);
        var body = new JsonFields<HttpFieldProblems>(document.RootElement, new("POST /senders"));
        var name = body.RequiredString("name");
        var events = body.Strings("events", required: true);
        if (body.Strings("requests").Length > 0 || body.Bool("default_handler", otherwise: false))
        {
            throw body.Invalid("requests", "cannot be answered by a sender registered over HTTP (HTTP has no way to hand it a request); declare such a sender over the JSON-lines gateway or with a BusClient");
        }

        if (body.Has("will"))
        {
            throw body.Invalid("will", "is not supported over HTTP: an HTTP sender has no connection whose death could trigger it");
        }

        NameRules.ValidateSender(name);
        Require(context, (identity, rules) => rules.Sender(identity, name, events));

        if (Interlocked.Increment(ref _senderCount) > Options.MaxSenders)
        {
            Interlocked.Decrement(ref _senderCount);
            throw new HttpGatewayException(StatusCodes.Status429TooManyRequests, ErrorCodes.TooMany, $"This broker already holds {Options.MaxSenders} senders registered over HTTP (HttpGatewayOptions.MaxSenders); remove some with DELETE /senders/NAME.");
        }

        ISender sender;
        try
        {
            sender = await _bus.AddSenderAsync(name, events);
        }
        catch
        {
            Interlocked.Decrement(ref _senderCount);
            throw;
        }

        _senders[name] = new HttpSender(sender, CallerOf(context));
        await HttpJson.WriteAsync(context, StatusCodes.Status201Created, json =>
        {
            json.WriteStartObject();
            json.WriteString("name", sender.Name);
            HttpJson.WriteStrings(json, "events", sender.Events);
            json.WriteEndObject();
        });
    }

    private async Task RemoveSenderAsync(HttpContext context)
    {
        var name = context.Request.RouteValues["name"] as string ?? string.Empty;
        var sender = OwnedSender(name, CallerOf(context), "remove");
        if (_senders.TryRemove(KeyValuePair.Create(name, sender)))
        {
            Interlocked.Decrement(ref _senderCount);
            await sender.Sender.DisposeAsync();
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>The HTTP sender <paramref name="name"/> if <paramref name="caller"/> may use it; 403 otherwise.</summary>
    private HttpSender OwnedSender(string name, Caller caller, string verb)
    {
        if (!_senders.TryGetValue(name, out var sender))
        {
            NameRules.ValidateSender(name);
            throw Broker.Router.TryGetSender(name, out _)
                ? new HttpGatewayException(StatusCodes.Status403Forbidden, ErrorCodes.ForbiddenSender, $"The sender '{name}' was registered by another client, not over HTTP; HTTP callers may {verb} only senders they registered with POST /senders.")
                : new HttpGatewayException(StatusCodes.Status403Forbidden, ErrorCodes.ForbiddenSender, $"No sender '{name}' was registered over HTTP; register it first with POST /senders {{\"name\":\"{name}\",\"events\":[...]}}.");
        }

        return caller.Is(sender.Owner) || Broker.Authenticator is null
            ? sender
            : throw new HttpGatewayException(StatusCodes.Status403Forbidden, ErrorCodes.ForbiddenSender, $"The sender '{name}' belongs to another HTTP client; only the client (name and token) that registered it may {verb} it.");
    }

    /// <summary>The body's <c>headers</c> plus the W3C trace context of the call (<c>traceparent</c>, <c>tracestate</c>), so
    /// its listeners (or the handler) continue the caller's trace; a malformed <c>traceparent</c> is left out.</summary>
    private static MessageHeaders? TraceContext(HttpContext context, MessageHeaders? body)
    {
        var parent = context.Request.Headers[SwitchboardTelemetry.TraceParentHeader].ToString();
        if (body?[SwitchboardTelemetry.TraceParentHeader] is not null || !ActivityContext.TryParse(parent, null, isRemote: true, out _))
        {
            return body; // the body's own trace context wins
        }

        var items = new List<KeyValuePair<string, string>>(body ?? MessageHeaders.Empty) { new(SwitchboardTelemetry.TraceParentHeader, parent) };
        var state = context.Request.Headers[SwitchboardTelemetry.TraceStateHeader].ToString();
        if (state.Length > 0)
        {
            items.Add(new(SwitchboardTelemetry.TraceStateHeader, state));
        }

        return new MessageHeaders(items);
    }

    private async Task PublishAsync(HttpContext context)
    {
        using var document = await HttpJson.ReadObjectAsync(context, Options.MaxBodyBytes, PublishExample);
        var body = new JsonFields<HttpFieldProblems>(document.RootElement, new("POST /publish"));
        var name = body.RequiredString("sender");
        var events = body.EventOrEvents();
        var data = body.Data();
        var retain = body.Bool("retain", otherwise: false);
        var headers = TraceContext(context, body.Headers());
        var sender = OwnedSender(name, CallerOf(context), "publish as");
        if (events.Length == 1)
        {
            await sender.Sender.TriggerAsync(events[0], data, headers, retain, context.RequestAborted);
        }
        else
        {
            await sender.Sender.TriggerAsync(events, data, headers, retain, context.RequestAborted);
        }

        Metrics.AddMessagesIn(events.Length);
        await HttpJson.WriteAsync(context, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteBoolean("ok", true);
            json.WriteEndObject();
        });
    }

    private async Task RequestAsync(HttpContext context)
    {
        var watch = ValueStopwatch.StartNew();
        var outcome = "invalid";
        try
        {
            using var document = await HttpJson.ReadObjectAsync(context, Options.MaxBodyBytes, RequestExample);
            var body = new JsonFields<HttpFieldProblems>(document.RootElement, new("POST /request"));
            var sender = body.RequiredString("sender");
            var request = body.RequiredString("request");
            var data = body.Data();
            var timeout = body.Milliseconds("timeout_ms", (long)Math.Min(int.MaxValue, Options.MaxWait.TotalMilliseconds));
            var headers = TraceContext(context, body.Headers());
            NameRules.ValidateSender(sender);
            NameRules.ValidateRequest(request);
            Require(context, (identity, rules) => rules.Request(identity, sender, request));
            Payload answer;
            try
            {
                answer = await _bus.RequestAsync(sender, request, data, timeout, headers, context.RequestAborted);
                outcome = "ok";
            }
            catch (SwitchboardException ex)
            {
                outcome = ex.Code;
                throw;
            }
            catch (OperationCanceledException)
            {
                outcome = "canceled";
                throw;
            }

            await HttpJson.WriteAsync(context, StatusCodes.Status200OK, json =>
            {
                json.WriteStartObject();
                json.WritePropertyName("data");
                JsonPayload.Write(json, answer);
                json.WriteEndObject();
            });
        }
        finally
        {
            Metrics.RecordRequest(outcome, watch.Elapsed);
        }
    }

    private async Task GatherAsync(HttpContext context)
    {
        var watch = ValueStopwatch.StartNew();
        using var document = await HttpJson.ReadObjectAsync(context, Options.MaxBodyBytes, GatherExample);
        var body = new JsonFields<HttpFieldProblems>(document.RootElement, new("POST /gather"));
        var topic = body.RequiredString("topic");
        var data = body.Data();
        var ttl = body.Milliseconds("ttl_ms", (long)Math.Min(int.MaxValue, Options.MaxWait.TotalMilliseconds)) ?? DefaultGatherTtl;
        NameRules.ValidateTopic(topic);
        Require(context, (identity, rules) => rules.Gather(identity, topic));
        var call = _bus.GatherAsync(topic, data, ttl, null, context.RequestAborted);
        var results = new List<GatherResult>();
        await foreach (var result in call)
        {
            results.Add(result);
        }

        var summary = await call.Summary;
        context.RequestAborted.ThrowIfCancellationRequested();
        Metrics.RecordGather(watch.Elapsed);
        await HttpJson.WriteAsync(context, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteStartArray("results");
            foreach (var result in results)
            {
                json.WriteStartObject();
                json.WriteString("producer", result.Producer);
                json.WritePropertyName("data");
                JsonPayload.Write(json, result.Data);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            HttpJson.WriteStrings(json, "answered", summary.Answered);
            HttpJson.WriteStrings(json, "missing", summary.Missing);
            json.WriteStartObject("failed");
            foreach (var (producer, error) in summary.Failed)
            {
                json.WriteString(producer, error);
            }

            json.WriteEndObject();
            json.WriteNumber("late", summary.Late);
            json.WriteEndObject();
        });
    }

    private Task ListSendersAsync(HttpContext context) =>
        HttpJson.WriteAsync(context, StatusCodes.Status200OK, json =>
        {
            json.WriteStartArray();
            foreach (var sender in Broker.Router.GetSenders())
            {
                json.WriteStartObject();
                json.WriteString("name", sender.Name);
                HttpJson.WriteStrings(json, "events", sender.Events);
                HttpJson.WriteStrings(json, "requests", sender.Requests);
                json.WriteBoolean("default_handler", sender.HasDefaultHandler);
                json.WriteBoolean("http", IsHttpSender(sender.Name));
                json.WriteEndObject();
            }

            json.WriteEndArray();
        });

    private async Task MetricsAsync(HttpContext context)
    {
        var text = Metrics.ToPrometheusText();
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsync(text, context.RequestAborted);
    }

    private async Task FileAsync(HttpContext context, string name)
    {
        if (!_files.TryGetValue(name, out var file))
        {
            throw new HttpGatewayException(StatusCodes.Status404NotFound, ErrorCodes.NotFound, $"The dashboard has no file '{name}'.");
        }

        var response = context.Response;
        response.Headers.ETag = file.ETag;
        response.Headers.CacheControl = "no-cache";
        if (context.Request.Headers.IfNoneMatch == file.ETag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        response.ContentType = file.ContentType;
        response.ContentLength = file.Bytes.Length;
        await response.Body.WriteAsync(file.Bytes, context.RequestAborted);
    }

    /// <summary>Reads <c>sender</c> and <c>event</c> of an SSE query: absent or empty means any; given twice is an error.</summary>
    private static StreamKey ReadStreamKey(HttpContext context)
    {
        var query = context.Request.Query;
        var key = new StreamKey(One("sender"), One("event"));
        Router.ValidateSubscription(key.Sender, key.Event);
        Require(context, (identity, rules) => rules.Listen(identity, key.Sender, key.Event));
        return key;

        string? One(string name)
        {
            if (!query.TryGetValue(name, out var values))
            {
                return null;
            }

            if (values.Count > 1)
            {
                throw new HttpGatewayException(StatusCodes.Status400BadRequest, ErrorCodes.InvalidField, $"\"{name}\" is given {values.Count} times; give it once (GET /events?sender=S&event=E).");
            }

            var value = values.ToString();
            return value.Length == 0 ? null : value;
        }
    }
}
