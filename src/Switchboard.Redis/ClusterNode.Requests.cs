using System.Collections.Concurrent;
using Switchboard.Routing;
using Switchboard.Wire;

namespace Switchboard.Redis;

/// <summary>Requests across nodes: a mirror's handler sends REQUEST to the owner node's inbox and waits for its REPLY;
/// the owner asks its own router (which relays to the client that holds the sender) and answers. The asker's router
/// keeps the timeout; when it gives up, CANCEL tells the owner to stop.</summary>
public sealed partial class ClusterNode
{
    private readonly ConcurrentDictionary<Task, byte> _background = new();
    private uint _nextRequest;

    /// <summary>The handler of a mirror's requests: asks the node that holds the sender.</summary>
    private ValueTask<Payload> AskAsync(NodeLink link, BusRequest request, CancellationToken cancellationToken) =>
        AskAsync(link, FrameType.Request, request.Sender, request.Name, request.Headers, request.Data, cancellationToken);

    /// <summary>Sends REQUEST (or, for a mirror producer, PRODUCE_IN) to the owner node and waits for its REPLY.</summary>
    private async ValueTask<Payload> AskAsync(NodeLink link, FrameType type, string target, string name, MessageHeaders headers, Payload data, CancellationToken cancellationToken)
    {
        uint id;
        do
        {
            id = Interlocked.Increment(ref _nextRequest);
        }
        while (id == 0 || link.Asked.ContainsKey(id));

        var pending = new PendingRequest(new TaskCompletionSource<Payload>(TaskCreationOptions.RunContinuationsAsynchronously), target, name);
        link.Asked[id] = pending;
        try
        {
            if (!link.Write((type, id, target, name, headers, data), static (output, crc, in q) => WriteAsk(output, q.type, q.id, q.target, q.name, q.headers, q.data)))
            {
                throw Router.HandlerFailed(target, name, "the node holding it left");
            }

            using var registration = cancellationToken.Register(static state =>
            {
                var (link, id, pending) = ((NodeLink, uint, PendingRequest))state!;
                if (pending.Answer.TrySetCanceled())
                {
                    link.Write(id, static (output, crc, in i) => NodeFrames.WriteCancel(output, i));
                }
            }, (link, id, pending));
            return await pending.Answer.Task;
        }
        finally
        {
            link.Asked.TryRemove(id, out _);
        }
    }

    // The owner waits as long as its handler takes: the asker's own deadline ends the wait (CANCEL).
    private static void WriteAsk(System.Buffers.IBufferWriter<byte> output, FrameType type, uint id, string target, string name, MessageHeaders headers, Payload data)
    {
        if (type == FrameType.Request)
        {
            Frames.Request(output, false, id, target, name, (uint)Router.MaxRequestTimeout.TotalMilliseconds, headers, data);
        }
        else
        {
            Frames.Incoming(output, false, type, id, target, name, headers, data);
        }
    }

    private void OnRequestFrame(NodeLink link, FrameType type, ReadOnlyMemory<byte> body)
    {
        if (type == FrameType.Request)
        {
            var r = new SpanReader(body.Span, type);
            var id = r.U32("id");
            var sender = r.RequiredString("sender");
            var request = r.RequiredString("request");
            var timeout = TimeSpan.FromMilliseconds(r.U32("timeout"));
            var headers = r.Headers("headers");
            var data = r.LentPayload("data", body); // the batch's array is never reused: the view may be kept
            r.End();
            var stop = new CancellationTokenSource();
            link.Serving[id] = stop;
            Track(ServeAsync(link, id, sender, request, timeout, headers, data, stop));
        }
        else if (type == FrameType.Reply)
        {
            var reply = Frames.ReadReply(body, lend: true);
            if (link.Asked.TryRemove(reply.Id, out var pending))
            {
                if (reply.Ok)
                {
                    pending.Answer.TrySetResult(reply.Data);
                }
                else
                {
                    // The owner's router worded it; the asker's rethrows a RequestFailedException as it is.
                    pending.Answer.TrySetException(new RequestFailedException(reply.Code ?? ErrorCodes.HandlerError, pending.Sender, pending.Request, reply.Message ?? "the handler failed"));
                }
            }
        }
        else if (type == NodeFrames.Cancel && link.Serving.TryRemove(new SpanReader(body.Span, type).U32("id"), out var serving))
        {
            serving.Cancel();
        }
        else if (type == FrameType.ProduceIn)
        {
            var produce = Frames.ReadIncoming(type, body.Span);
            var stop = new CancellationTokenSource();
            link.Serving[produce.Id] = stop;
            Track(ServeProduceAsync(link, produce.Id, produce.Target, produce.Name, produce.Headers, produce.Data, stop));
        }
    }

    private async Task ServeAsync(NodeLink link, uint id, string sender, string request, TimeSpan timeout, MessageHeaders headers, Payload data, CancellationTokenSource stop)
    {
        try
        {
            var answer = await Router.RequestAsync(sender, request, data, timeout, headers, stop.Token);
            link.Write((id, answer), static (output, crc, in a) => Frames.Reply(output, crc, a.id, null, null, a.answer));
        }
        catch (SwitchboardException ex)
        {
            // A client that answered with a code of its own (a relay passing no_sender on) keeps it, as the broker's
            // relay between two of its clients does; the router wrapped it as handler_error for in-process askers.
            var failure = ex is { Code: ErrorCodes.HandlerError, InnerException: SwitchboardException inner } && inner.GetType() == typeof(SwitchboardException) ? inner : ex;
            link.Write((id, failure.Code, failure.Message), static (output, crc, in e) => Frames.Reply(output, crc, e.id, e.Code, e.Message, default));
        }
        catch (OperationCanceledException)
        {
            // The asker gave up (CANCEL) or its node left: nobody waits for an answer.
        }
        finally
        {
            link.Serving.TryRemove(new KeyValuePair<uint, CancellationTokenSource>(id, stop));
            stop.Dispose();
        }
    }

    /// <summary>Asks one of this node's producers for another node's gather, and answers with its result or failure.</summary>
    private async Task ServeProduceAsync(NodeLink link, uint id, string producer, string topic, MessageHeaders headers, Payload data, CancellationTokenSource stop)
    {
        try
        {
            if (!Router.TryGetProducer(producer, out var registration) || registration.IsClosed)
            {
                throw new SwitchboardException(ErrorCodes.UnknownProducer, $"The producer '{producer}' left before it answered.");
            }

            var answer = await registration.Handler(new GatherRequest(topic, producer, data, headers), stop.Token);
            link.Write((id, answer), static (output, crc, in a) => Frames.Reply(output, crc, a.id, null, null, a.answer));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The gather ended (CANCEL) or its node left.
        }
        catch (Exception ex)
        {
            var code = ex is SwitchboardException known ? known.Code : ErrorCodes.HandlerError;
            link.Write((id, code, ex.Message), static (output, crc, in e) => Frames.Reply(output, crc, e.id, e.code, e.Message, default));
        }
        finally
        {
            link.Serving.TryRemove(new KeyValuePair<uint, CancellationTokenSource>(id, stop));
            stop.Dispose();
        }
    }

    /// <summary>The link is gone: whoever waits on it is answered, and what it asked here stops.</summary>
    private static void FailRequests(NodeLink link, string why)
    {
        foreach (var (_, pending) in link.Asked)
        {
            pending.Answer.TrySetException(Router.HandlerFailed(pending.Sender, pending.Request, why));
        }

        foreach (var (_, serving) in link.Serving)
        {
            serving.Cancel();
        }
    }

    /// <summary>Owns work that answers later; a fault is logged, never lost.</summary>
    private void Track(Task work)
    {
        if (work.IsCompleted)
        {
            return;
        }

        _background.TryAdd(work, 0);
        _ = work.ContinueWith(
            static (done, state) =>
            {
                var node = (ClusterNode)state!;
                node._background.TryRemove(done, out _);
                if (done.IsFaulted)
                {
                    node.Log.InboundFailed(done.Exception!.GetBaseException(), "(a request)");
                }
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }
}
