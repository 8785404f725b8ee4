using System.Collections.Concurrent;
using Switchboard.Routing;
using Switchboard.Wire;

namespace Switchboard.Server;

/// <summary>Requests both ways: the peer asking (answered by the router, or relayed to the peer that holds the handler)
/// and the peer answering (a request or a gather's produce sent to it, waiting for its reply).</summary>
internal abstract partial class BrokerPeer
{
    private const int MaxPooledForwarded = 1024;
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<Payload>> _awaitingReply = new();
    // A plain dictionary under its own lock, not a ConcurrentDictionary: that one allocates a node per request.
    private readonly Dictionary<uint, ForwardedRequest> _forwarded = [];
    private readonly Stack<ForwardedRequest> _forwardedPool = new();
    private readonly ConcurrentDictionary<Task, byte> _background = new();
    private readonly RequestHandler _forwardRequests;
    private bool _forwardedPoolClosed;
    private bool _forwardingClosed;
    private int _forwardedCount;
    private int _askedCount;
    private uint _nextOutgoingId;
    private TaskCompletionSource? _askedDrained;

    /// <summary>Requests relayed from other clients to this one, not ended yet.</summary>
    public int ForwardedCount => Volatile.Read(ref _forwardedCount);

    /// <summary>Requests this client asked of other clients, not ended yet.</summary>
    public int AskedCount => Volatile.Read(ref _askedCount);

    /// <summary>The handler the router calls for a request to one of this peer's senders (the broker relays it).</summary>
    protected RequestHandler ForwardRequests => _forwardRequests;

    /// <summary>Writes a request (or a gather's produce) for this peer to answer: written, or closing (or past its
    /// headroom), or too large for this peer.</summary>
    protected abstract WriteOutcome WriteAsk(bool produce, uint id, string target, string name, MessageHeaders headers, Payload data);

    /// <summary>Writes the answer to this peer's request <paramref name="askerId"/>: data, or an error code and message.</summary>
    internal abstract void SendReply(uint askerId, string? code, string? message, Payload data);

    /// <summary>
    /// This peer asks <paramref name="sender"/>. A handler on another peer gets the request relayed without a task (see
    /// <see cref="ForwardedRequest"/>); the router's path (a handler in the broker's process) answers later.
    /// <paramref name="data"/> may be lent from the receive buffer: it is copied where it is kept.
    /// </summary>
    protected void Ask(uint askerId, string sender, string request, TimeSpan? timeout, MessageHeaders headers, Payload data)
    {
        RequestHandler handler;
        TimeSpan wait;
        try
        {
            AdmitRequest();
            if (Identity?.Rules.Request(Identity, sender, request) is { } forbidden)
            {
                NameRules.ValidateSender(sender); // a bad name is told as such, whoever asks
                NameRules.ValidateRequest(request);
                throw forbidden;
            }

            handler = Router.FindRequestHandler(sender, request, timeout, out wait);
        }
        catch (SwitchboardException ex)
        {
            SendReply(askerId, ex.Code, ex.Message, default);
            return;
        }

        if (handler.Target is BrokerPeer answerer && ReferenceEquals(handler, answerer._forwardRequests))
        {
            answerer.Forward(this, askerId, sender, request, headers, data, wait);
            return;
        }

        Track(AnswerAsync(askerId, sender, request, data.Detach(), timeout, headers));
    }

    private async Task AnswerAsync(uint askerId, string sender, string request, Payload data, TimeSpan? timeout, MessageHeaders headers)
    {
        try
        {
            var answer = await Router.RequestAsync(sender, request, data, timeout, headers, Closing);
            SendReply(askerId, null, null, answer);
        }
        catch (SwitchboardException ex)
        {
            SendReply(askerId, ex.Code, ex.Message, default);
        }
        catch (OperationCanceledException)
        {
            // The asker's connection closed; nobody is left to answer.
        }
    }

    /// <summary>
    /// The peer answered request <paramref name="id"/> (sent by <see cref="WriteAsk"/>): false when nothing waits for it
    /// (already answered, timed out). <paramref name="data"/> may be lent: it is copied where it is kept.
    /// </summary>
    protected bool OnAnswer(uint id, bool ok, string? code, string? message, Payload data)
    {
        if (TryEndForwarded(id, null, out var forwarded))
        {
            if (ok)
            {
                forwarded.Asker.SendReply(forwarded.AskerId, null, null, data);
            }
            else if (code is ErrorCodes.HandlerError or "" or null)
            {
                forwarded.Fail(message ?? "the handler failed");
            }
            else
            {
                // Another code (a bridge's mirror relaying no_sender, timeout...) reaches the asker as it came.
                forwarded.Asker.SendReply(forwarded.AskerId, code, message ?? code, default);
            }

            ReturnForwarded(forwarded);
            return true;
        }

        if (!_awaitingReply.TryRemove(id, out var pending))
        {
            return false;
        }

        if (ok)
        {
            pending.TrySetResult(data.Detach());
        }
        else if (code is ErrorCodes.HandlerError or "" or null)
        {
            // The router words it as "Sender 's' failed to answer 'r': <message>".
            pending.TrySetException(new RemoteHandlerException(message ?? "the handler failed"));
        }
        else
        {
            pending.TrySetException(new SwitchboardException(code, message ?? code));
        }

        return true;
    }

    private ValueTask<Payload> AskClientAsync(BusRequest request, CancellationToken cancellationToken) =>
        AskClientAsync(produce: false, request.Sender, request.Name, request.Headers, request.Data, cancellationToken);

    // The gather's end does not cancel the wait: a result that still arrives must be counted as late, not lost silently.
    // The connection closing ends the wait in any case.
    private protected ValueTask<Payload> ForwardProduce(GatherRequest request, CancellationToken cancellationToken) =>
        AskClientAsync(produce: true, request.Producer, request.Topic, request.Headers, request.Data, Closing);

    /// <summary>Sends a request or a produce to this peer and waits for its answer.</summary>
    private async ValueTask<Payload> AskClientAsync(bool produce, string target, string name, MessageHeaders headers, Payload data, CancellationToken cancellationToken)
    {
        var id = NextOutgoingId();
        var pending = new TaskCompletionSource<Payload>(TaskCreationOptions.RunContinuationsAsynchronously);
        _awaitingReply[id] = pending;
        try
        {
            var outcome = WriteAsk(produce, id, target, name, headers, data);
            if (outcome != WriteOutcome.Written)
            {
                throw NotAsked(outcome, target, name, data);
            }

            using var registration = cancellationToken.Register(static state => ((TaskCompletionSource<Payload>)state!).TrySetCanceled(), pending);
            return await pending.Task;
        }
        finally
        {
            _awaitingReply.TryRemove(id, out _);
        }
    }

    /// <summary>An id for a request to this peer; ids wrap after 2^32, and one still waiting is skipped, never replaced.</summary>
    private uint NextOutgoingId()
    {
        uint id;
        do
        {
            id = Interlocked.Increment(ref _nextOutgoingId);
        }
        while (id == 0 || _awaitingReply.ContainsKey(id) || ForwardedContains(id));

        return id;
    }

    private bool ForwardedContains(uint id)
    {
        lock (_forwarded)
        {
            return _forwarded.ContainsKey(id);
        }
    }

    /// <summary>Relays a request from another peer to this one (see <see cref="ForwardedRequest"/>).</summary>
    private void Forward(BrokerPeer asker, uint askerId, string sender, string request, MessageHeaders headers, Payload data, TimeSpan wait)
    {
        var forwarded = RentForwarded();
        var id = TryStartForwarded(forwarded, asker, askerId, sender, request, wait);
        var outcome = WriteOutcome.Closed;
        if (id != 0)
        {
            forwarded.Arm();
            outcome = WriteAsk(produce: false, id, sender, request, headers, data);
            if (outcome == WriteOutcome.Written)
            {
                return;
            }

            if (!TryEndForwarded(id, forwarded, out _))
            {
                return; // ended meanwhile by whoever removed it (its timeout, the close sweep)
            }
        }

        var error = outcome == WriteOutcome.TooLarge ? NotAsked(outcome, sender, request, data) : Router.HandlerFailed(sender, request, $"The connection of client '{ClientName}' is closing.");
        asker.SendReply(askerId, error.Code, error.Message, default);
        ReturnForwarded(forwarded);
    }

    // A request too large for the answering client is that request's outcome (413 over HTTP), not the handler's failure.
    private SwitchboardException NotAsked(WriteOutcome outcome, string target, string name, Payload data) => outcome == WriteOutcome.TooLarge
        ? new RequestFailedException(ErrorCodes.MessageTooLarge, target, name, $"The request ({data.Length} bytes) is larger than the frames client '{ClientName}' accepts.")
        : new SwitchboardException(ErrorCodes.Closed, $"The connection of client '{ClientName}' is closing.");

    /// <summary>Puts a relayed request in the table, counted and findable before its timer can fire (a timeout that ran
    /// before the entry existed would be lost); 0 when this connection's close already ended its relayed requests.</summary>
    private uint TryStartForwarded(ForwardedRequest forwarded, BrokerPeer asker, uint askerId, string sender, string request, TimeSpan wait)
    {
        lock (_forwarded)
        {
            if (_forwardingClosed)
            {
                return 0;
            }

            uint id;
            do
            {
                id = Interlocked.Increment(ref _nextOutgoingId);
            }
            while (id == 0 || _forwarded.ContainsKey(id) || _awaitingReply.ContainsKey(id));

            forwarded.Prepare(asker, askerId, id, sender, request, wait);
            _forwarded.Add(id, forwarded);
            Interlocked.Increment(ref _forwardedCount);
            Interlocked.Increment(ref asker._askedCount);
            return id;
        }
    }

    /// <summary>Ends a relayed request: true for the one caller that removes it from the table, which then answers the
    /// asker and hands it back with <see cref="ReturnForwarded"/>. With <paramref name="expected"/>, only if the entry is
    /// that object (a timer left over from an earlier use must not end another request).</summary>
    internal bool TryEndForwarded(uint id, ForwardedRequest? expected, out ForwardedRequest forwarded)
    {
        lock (_forwarded)
        {
            if (!_forwarded.TryGetValue(id, out forwarded!) || (expected is not null && forwarded != expected))
            {
                return false;
            }

            _forwarded.Remove(id);
        }

        OnForwardedEnded(forwarded);
        return true;
    }

    private void OnForwardedEnded(ForwardedRequest forwarded)
    {
        Interlocked.Decrement(ref _forwardedCount);
        forwarded.Disarm();
    }

    /// <summary>One of this peer's relayed requests was answered (its reply is written): a peer whose input ended
    /// closes once none is left.</summary>
    private void OnAskedEnded()
    {
        if (Interlocked.Decrement(ref _askedCount) == 0)
        {
            Volatile.Read(ref _askedDrained)?.TrySetResult();
        }
    }

    private ForwardedRequest RentForwarded()
    {
        lock (_forwardedPool)
        {
            if (_forwardedPool.TryPop(out var pooled))
            {
                return pooled;
            }
        }

        return new ForwardedRequest(this, Time);
    }

    /// <summary>Keeps an ended relayed request for the next one (its timer too); beyond the pool's bound, or once the
    /// connection is closing, its timer is disposed.</summary>
    internal void ReturnForwarded(ForwardedRequest forwarded)
    {
        if (forwarded.Started)
        {
            forwarded.Asker.OnAskedEnded(); // after the asker's answer was written, whatever ended it
        }

        lock (_forwardedPool)
        {
            if (!_forwardedPoolClosed && _forwardedPool.Count < MaxPooledForwarded)
            {
                forwarded.Clear(); // holds no asker connection or names while it waits
                _forwardedPool.Push(forwarded);
                return;
            }
        }

        forwarded.Dispose();
    }

    /// <summary>The asker left: its requests relayed to this peer end now (an answer that still comes is dropped), so
    /// an asker that leaves many unanswered requests does not leave them held until their timeouts.</summary>
    internal void DropRequestsFrom(BrokerPeer asker)
    {
        foreach (var forwarded in EndForwarded(static (request, asker) => request.Asker == asker, asker, close: false))
        {
            ReturnForwarded(forwarded);
        }
    }

    /// <summary>Ends every relayed request that <paramref name="match"/> picks; with <paramref name="close"/>, no
    /// request can be relayed to this peer afterwards.</summary>
    private List<ForwardedRequest> EndForwarded(Func<ForwardedRequest, BrokerPeer, bool> match, BrokerPeer argument, bool close)
    {
        var ended = new List<ForwardedRequest>();
        lock (_forwarded)
        {
            _forwardingClosed |= close;
            foreach (var (id, forwarded) in _forwarded)
            {
                if (match(forwarded, argument))
                {
                    ended.Add(forwarded);
                    _forwarded.Remove(id);
                }
            }
        }

        foreach (var forwarded in ended)
        {
            OnForwardedEnded(forwarded);
        }

        return ended;
    }

    /// <summary>The connection closed: whoever waits on it is answered, and nothing can be relayed to it any more.</summary>
    private void EndRequests()
    {
        var closed = $"The connection of client '{ClientName}' closed before it answered.";
        foreach (var (_, pending) in _awaitingReply)
        {
            pending.TrySetException(new SwitchboardException(ErrorCodes.Closed, closed));
        }

        foreach (var forwarded in EndForwarded(static (_, _) => true, this, close: true))
        {
            forwarded.Fail(closed);
            ReturnForwarded(forwarded);
        }

        lock (_forwardedPool)
        {
            _forwardedPoolClosed = true;
            while (_forwardedPool.TryPop(out var pooled))
            {
                pooled.Dispose();
            }
        }
    }

    /// <summary>Owns work that answers later (requests, gather pumps): a fault is logged, and a client that stops
    /// sending gets its answers before the connection closes.</summary>
    protected void Track(Task work)
    {
        if (work.IsCompletedSuccessfully)
        {
            return;
        }

        _background.TryAdd(work, 0);
        _ = work.ContinueWith(
            static (done, state) =>
            {
                var peer = (BrokerPeer)state!;
                peer._background.TryRemove(done, out _);
                if (done.IsFaulted)
                {
                    peer.Broker.Log.ConnectionFailed(done.Exception!.GetBaseException(), peer.Id, peer.ClientName);
                }
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>Waits for this peer's tracked work and for its requests relayed to other peers (each ends by its
    /// answer, its timeout, or the answerer leaving); only the connection closing ends the wait early.</summary>
    private async Task WhenBackgroundDoneAsync()
    {
        // Faults were logged by Track.
        await Task.WhenAll(_background.Keys).WaitAsync(Closing).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _askedDrained, drained);
        if (AskedCount > 0)
        {
            await drained.Task.WaitAsync(Closing).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
