using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Switchboard;

/// <summary>
/// Switchboard's traces and metrics, after the OpenTelemetry messaging semantic conventions. Listen with
/// <c>AddSource(SwitchboardTelemetry.ActivitySourceName)</c> and <c>AddMeter(SwitchboardTelemetry.MeterName)</c>.
/// A trigger is a <c>send EVENT</c> span (PRODUCER) whose context travels in the message's <c>traceparent</c> (and
/// <c>tracestate</c>) header through brokers and bridges; a callback listener's run of it is a <c>process EVENT</c>
/// span (CONSUMER), a child of the sender's span and linked to it. Metrics: <c>messaging.client.sent.messages</c>,
/// <c>messaging.client.consumed.messages</c>, <c>messaging.client.operation.duration</c> and
/// <c>messaging.process.duration</c>. While nobody listens, nothing is created and headers are left as they are.
/// </summary>
public static class SwitchboardTelemetry
{
    /// <summary>The <see cref="ActivitySource"/>'s name.</summary>
    public const string ActivitySourceName = "Switchboard";

    /// <summary>The <see cref="System.Diagnostics.Metrics.Meter"/>'s name.</summary>
    public const string MeterName = "Switchboard";

    /// <summary>The header carrying the W3C trace context.</summary>
    public const string TraceParentHeader = "traceparent";

    /// <summary>The header carrying the W3C trace state, when there is one.</summary>
    public const string TraceStateHeader = "tracestate";

    /// <summary>The value of <c>messaging.system</c>.</summary>
    public const string MessagingSystem = "switchboard";

    private static readonly string? Version = typeof(SwitchboardTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

    internal static readonly ActivitySource Source = new(ActivitySourceName, Version);

    private static readonly Meter Meter = new(MeterName, Version);

    private static readonly Counter<long> Sent = Meter.CreateCounter<long>("messaging.client.sent.messages", "{message}", "Messages triggered by senders of this process.");

    private static readonly Counter<long> Consumed = Meter.CreateCounter<long>("messaging.client.consumed.messages", "{message}", "Messages delivered to callback listeners of this process.");

    private static readonly Histogram<double> OperationDuration = Meter.CreateHistogram<double>("messaging.client.operation.duration", "s", "How long a trigger took to hand its message on.");

    private static readonly Histogram<double> ProcessDuration = Meter.CreateHistogram<double>("messaging.process.duration", "s", "How long a callback listener took with a message.");

    /// <summary>True when a trigger has anything to record: the one check a trigger makes while nobody listens.</summary>
    internal static bool SendObserved => Source.HasListeners() || Sent.Enabled || OperationDuration.Enabled;

    /// <summary>True when a delivery has anything to record.</summary>
    internal static bool ProcessObserved => Source.HasListeners() || Consumed.Enabled || ProcessDuration.Enabled;

    /// <summary>True when either a trigger or a delivery has anything to record: the one check an in-process trigger
    /// makes while nobody listens (inlined, so it costs a few loads instead of two calls).</summary>
    internal static bool AnyObserved
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Source.HasListeners() || Sent.Enabled || OperationDuration.Enabled || Consumed.Enabled || ProcessDuration.Enabled;
    }

    /// <summary>Starts recording a trigger of <paramref name="destination"/>; when a span starts, <paramref name="headers"/>
    /// becomes a copy carrying its context. Dispose the scope once the message is handed on.</summary>
    internal static SendScope StartSend(string sender, string destination, ref MessageHeaders? headers)
    {
        if (!SendObserved)
        {
            return default;
        }

        var activity = Source.StartActivity($"send {destination}", ActivityKind.Producer, CarriedContext(headers));
        if (activity is not null)
        {
            if (activity.IsAllDataRequested)
            {
                SetCommonTags(activity, destination, "send", "send");
                activity.SetTag("messaging.switchboard.sender", sender);
            }

            headers = WithContext(headers, activity);
        }

        return new SendScope(activity, destination, Stopwatch.GetTimestamp());
    }

    /// <summary>True when a request has anything to record.</summary>
    internal static bool RequestObserved => Source.HasListeners() || OperationDuration.Enabled;

    /// <summary>True when a gather has anything to record.</summary>
    internal static bool GatherObserved => Source.HasListeners() || OperationDuration.Enabled;

    /// <summary>A request as a <c>request SENDER</c> span (CLIENT) whose context goes to the handler in the request's
    /// headers; it ends with the answer, or as an error whose <c>error.type</c> is the failure's code.</summary>
    internal static async ValueTask<Payload> ObserveRequestAsync(string sender, string request, MessageHeaders? headers, Func<MessageHeaders?, ValueTask<Payload>> ask)
    {
        var activity = Source.StartActivity($"request {sender}", ActivityKind.Client, CarriedContext(headers));
        if (activity is not null)
        {
            if (activity.IsAllDataRequested)
            {
                SetCommonTags(activity, sender, "send", "request");
                activity.SetTag("messaging.switchboard.request", request);
            }

            headers = WithContext(headers, activity);
        }

        var start = Stopwatch.GetTimestamp();
        string? failure = null;
        try
        {
            return await ask(headers);
        }
        catch (Exception ex)
        {
            failure = Failed(activity, ex);
            throw;
        }
        finally
        {
            OperationDuration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, Tags(sender, "request", failure));
            activity?.Dispose();
        }
    }

    /// <summary>Wraps a request handler so its run is a <c>process SENDER</c> span, a child of the asker's span; only
    /// called while anyone listens (a handler found for a request otherwise runs as it is).</summary>
    internal static RequestHandler Instrument(string sender, RequestHandler handler) =>
        (request, cancellationToken) => ProcessRequestAsync(sender, handler, request, cancellationToken);

    private static ValueTask<Payload> ProcessRequestAsync(string sender, RequestHandler handler, BusRequest request, CancellationToken cancellationToken) =>
        ProcessAsync(sender, "messaging.switchboard.request", request.Name, request.Headers, (handler, request), static (state, ct) => state.handler(state.request, ct), cancellationToken);

    /// <summary>Runs application code that answers (a request handler, a producer) in a <c>process</c> span, timed.</summary>
    private static async ValueTask<Payload> ProcessAsync<TState>(string destination, string tag, string value, MessageHeaders headers, TState state, Func<TState, CancellationToken, ValueTask<Payload>> run, CancellationToken cancellationToken)
    {
        var activity = StartConsumer($"process {destination}", headers);
        if (activity is { IsAllDataRequested: true })
        {
            SetCommonTags(activity, destination, "process", "process");
            activity.SetTag(tag, value);
        }

        var start = Stopwatch.GetTimestamp();
        string? failure = null;
        try
        {
            return await run(state, cancellationToken);
        }
        catch (Exception ex)
        {
            failure = Failed(activity, ex);
            throw;
        }
        finally
        {
            ProcessDuration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, Tags(destination, "process", failure));
            activity?.Dispose();
        }
    }

    /// <summary>A gather as a <c>gather TOPIC</c> span (CLIENT) lasting until its summary, whose context goes to the
    /// producers in the gather's headers; it ends with the counts of who answered, who did not and how many came late.</summary>
    internal static GatherCall ObserveGather(string topic, MessageHeaders? headers, Func<MessageHeaders?, GatherCall> start)
    {
        var previous = Activity.Current;
        var activity = Source.StartActivity($"gather {topic}", ActivityKind.Client);
        if (activity is not null)
        {
            if (activity.IsAllDataRequested)
            {
                SetCommonTags(activity, topic, "send", "gather");
            }

            headers = WithContext(headers, activity);
        }

        var began = Stopwatch.GetTimestamp();
        GatherCall call;
        try
        {
            call = start(headers);
        }
        catch (Exception ex)
        {
            var failure = Failed(activity, ex);
            OperationDuration.Record(Stopwatch.GetElapsedTime(began).TotalSeconds, Tags(topic, "gather", failure));
            activity?.Dispose();
            Activity.Current = previous;
            throw;
        }

        Activity.Current = previous; // the span lasts as long as the gather, not as the caller's code after it
        _ = call.Summary.ContinueWith(
            static (done, state) => EndGather(done, ((Activity?, string, long))state!),
            (activity, topic, began),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return call;
    }

    private static void EndGather(Task<GatherSummary> done, (Activity? Activity, string Topic, long Began) gather)
    {
        string? failure = null;
        var activity = gather.Activity;
        if (!done.IsCompletedSuccessfully || done.Result.Canceled)
        {
            failure = "canceled";
            activity?.SetStatus(ActivityStatusCode.Error, "the gather was canceled");
            activity?.SetTag("error.type", failure);
        }
        else if (activity is not null)
        {
            var summary = done.Result;
            activity.SetTag("messaging.switchboard.answered", summary.Answered.Count);
            activity.SetTag("messaging.switchboard.missing", summary.Missing.Count);
            activity.SetTag("messaging.switchboard.failed", summary.Failed.Count);
            activity.SetTag("messaging.switchboard.late", summary.Late);
        }

        OperationDuration.Record(Stopwatch.GetElapsedTime(gather.Began).TotalSeconds, Tags(gather.Topic, "gather", failure));
        activity?.Dispose();
    }

    /// <summary>Wraps an in-process producer so each answer is a <c>process TOPIC</c> span, while anyone listens.</summary>
    internal static ProducerHandler Instrument(ProducerHandler handler) =>
        (request, cancellationToken) => ProcessObserved ? ProduceAsync(handler, request, cancellationToken) : handler(request, cancellationToken);

    /// <summary>A producer's answer to a gather as a <c>process TOPIC</c> span (CONSUMER) under the gather's span;
    /// call it only while <see cref="ProcessObserved"/>.</summary>
    internal static ValueTask<Payload> ProduceAsync(ProducerHandler handler, GatherRequest request, CancellationToken cancellationToken) =>
        ProcessAsync(request.Topic, "messaging.switchboard.producer", request.Producer, request.Headers, (handler, request), static (state, ct) => state.handler(state.request, ct), cancellationToken);

    /// <summary>Marks the span failed; returns the <c>error.type</c>: a Switchboard code, or the exception's type.</summary>
    private static string Failed(Activity? activity, Exception ex)
    {
        var type = ex is SwitchboardException switchboard ? switchboard.Code : ex.GetType().FullName ?? "error";
        if (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, ex.Message);
            activity.SetTag("error.type", type);
        }

        return type;
    }

    /// <summary>The destination name of a trigger of several events at once.</summary>
    internal static string Destination(IReadOnlyList<string> events) => events.Count == 1 ? events[0] : string.Join(',', events);

    /// <summary>Wraps a listener's callback so each run is a <c>process</c> span and counted, when anyone listens.</summary>
    internal static MessageHandler Instrument(MessageHandler handler) =>
        (message, cancellationToken) => ProcessObserved ? ProcessAsync(handler, message, cancellationToken) : handler(message, cancellationToken);

    private static ValueTask ProcessAsync(MessageHandler handler, BusMessage message, CancellationToken cancellationToken)
    {
        var previous = Activity.Current;
        var activity = StartProcess(message);
        var start = Stopwatch.GetTimestamp();
        ValueTask pending;
        try
        {
            pending = handler(message, cancellationToken);
        }
        catch (Exception ex)
        {
            EndProcess(activity, message.Event, start, ex);
            Activity.Current = previous;
            throw;
        }

        if (pending.IsCompleted)
        {
            Exception? error = null;
            try
            {
                pending.GetAwaiter().GetResult(); // consumed here, once: a pooled source may not be read twice
            }
            catch (Exception ex)
            {
                error = ex;
            }

            EndProcess(activity, message.Event, start, error);
            Activity.Current = previous;
            return error is null ? default : ValueTask.FromException(error);
        }

        var rest = FinishAsync(pending, activity, message.Event, start);
        Activity.Current = previous; // the span goes on with the callback, not with the thread that delivered
        return rest;
    }

    private static async ValueTask FinishAsync(ValueTask pending, Activity? activity, string destination, long start)
    {
        try
        {
            await pending;
        }
        catch (Exception ex)
        {
            EndProcess(activity, destination, start, ex);
            throw;
        }

        EndProcess(activity, destination, start, null);
    }

    /// <summary>A message taken from a queue listener (<c>ReadAsync</c>, <c>TryRead</c>, <c>ReadAllAsync</c>): a
    /// <c>receive EVENT</c> span (CONSUMER, a child of the sender's context and linked to it, ended at once: what the
    /// reader does with the message next is its own code's) and one count in <c>messaging.client.consumed.messages</c>.</summary>
    internal static void Received(in BusMessage message)
    {
        if (!ProcessObserved)
        {
            return;
        }

        if (Source.HasListeners())
        {
            using var activity = StartConsumer($"receive {message.Event}", message.Headers);
            if (activity is { IsAllDataRequested: true })
            {
                SetCommonTags(activity, message.Event, "receive", "receive");
                activity.SetTag("messaging.switchboard.sender", message.Sender);
            }
        }

        Consumed.Add(1, Tags(message.Event, "receive", null));
    }

    private static Activity? StartProcess(in BusMessage message)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = StartConsumer($"process {message.Event}", message.Headers);
        if (activity is { IsAllDataRequested: true })
        {
            SetCommonTags(activity, message.Event, "process", "process");
            activity.SetTag("messaging.switchboard.sender", message.Sender);
        }

        return activity;
    }

    /// <summary>The parent of a send or request span: none given (so <see cref="Activity.Current"/> is) when there is a
    /// current activity, else the trace context the caller put in the headers (a <c>traceparent</c> that came with an
    /// HTTP call or a JSON line), so the span continues the caller's trace.</summary>
    private static ActivityContext CarriedContext(MessageHeaders? headers) =>
        Activity.Current is null && headers?[TraceParentHeader] is { } traceParent
            && ActivityContext.TryParse(traceParent, headers[TraceStateHeader], isRemote: true, out var carried)
            ? carried
            : default;

    /// <summary>A CONSUMER span, a child of the context in <paramref name="headers"/> (and linked to it), if any.</summary>
    private static Activity? StartConsumer(string name, MessageHeaders headers)
    {
        var parent = default(ActivityContext);
        var hasParent = headers[TraceParentHeader] is { } traceParent
            && ActivityContext.TryParse(traceParent, headers[TraceStateHeader], isRemote: true, out parent);
        return Source.StartActivity(name, ActivityKind.Consumer, parent, links: hasParent ? [new ActivityLink(parent)] : null);
    }

    private static void EndProcess(Activity? activity, string destination, long start, Exception? error)
    {
        var failure = error is null ? null : Failed(activity, error);
        var tags = Tags(destination, "process", failure);
        Consumed.Add(1, tags);
        ProcessDuration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, tags);
        activity?.Dispose();
    }

    private static void SetCommonTags(Activity activity, string destination, string type, string operation)
    {
        activity.SetTag("messaging.system", MessagingSystem);
        activity.SetTag("messaging.destination.name", destination);
        activity.SetTag("messaging.operation.type", type);
        activity.SetTag("messaging.operation.name", operation);
    }

    private static TagList Tags(string destination, string operation, string? errorType)
    {
        var tags = new TagList
        {
            { "messaging.system", MessagingSystem },
            { "messaging.destination.name", destination },
            { "messaging.operation.name", operation },
        };
        if (errorType is not null)
        {
            tags.Add("error.type", errorType);
        }

        return tags;
    }

    /// <summary>The headers with the span's context in place of any the message carried.</summary>
    private static MessageHeaders WithContext(MessageHeaders? headers, Activity activity)
    {
        var items = new List<KeyValuePair<string, string>>((headers?.Count ?? 0) + 2);
        foreach (var header in headers ?? MessageHeaders.Empty)
        {
            if (header.Key is not (TraceParentHeader or TraceStateHeader))
            {
                items.Add(header);
            }
        }

        items.Add(new(TraceParentHeader, activity.Id!));
        if (activity.TraceStateString is { Length: > 0 } state)
        {
            items.Add(new(TraceStateHeader, state));
        }

        return new MessageHeaders(items);
    }

    /// <summary>An observed trigger: ends its span and records its count and duration.</summary>
    internal readonly struct SendScope(Activity? activity, string? destination, long start) : IDisposable
    {
        public void Dispose()
        {
            if (destination is null)
            {
                return; // nobody was listening when it started
            }

            var tags = Tags(destination, "send", errorType: null);
            Sent.Add(1, tags);
            OperationDuration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, tags);
            activity?.Dispose();
        }
    }
}
