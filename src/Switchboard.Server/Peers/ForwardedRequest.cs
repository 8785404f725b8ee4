using Switchboard.Routing;

namespace Switchboard.Server;

/// <summary>
/// A request from one client that another client answers, relayed by the broker without a task, a continuation or a
/// thread hop: the REQUEST_IN goes out from the asker's read loop, and the REPLY is written to the asker from the
/// answerer's read loop. The errors are the router's (<see cref="Router.FindRequestHandler"/>, <see cref="Router.TimedOut"/>,
/// <see cref="Router.HandlerFailed"/>), so a client sees the same answers as through <see cref="Router.RequestAsync"/>.
/// <para>
/// Allocation-free in steady state: each answering connection keeps a pool of these, each with one timer made once and
/// re-armed per use. Whoever removes the request from the answerer's table (<see cref="BrokerPeer"/>'s
/// <c>TryEndForwarded</c>: the reply, the timeout, or either client leaving) is the one that ends it, so it ends exactly
/// once; only then does it go back to the pool. A timer callback left over from an earlier use finds its id gone from
/// the table, or its deadline not reached, and does nothing but re-arm for the current deadline.
/// </para>
/// </summary>
internal sealed class ForwardedRequest : IDisposable
{
    private readonly BrokerPeer _answerer;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private long _deadline;
    private uint _id;

    public ForwardedRequest(BrokerPeer answerer, TimeProvider time)
    {
        _answerer = answerer;
        _time = time;
        _timer = time.CreateTimer(static state => ((ForwardedRequest)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Asker = answerer;
        Sender = Request = string.Empty;
    }

    public BrokerPeer Asker { get; private set; }

    public uint AskerId { get; private set; }

    public uint Id => Volatile.Read(ref _id);

    public string Sender { get; private set; }

    public string Request { get; private set; }

    public TimeSpan Wait { get; private set; }

    /// <summary>True from <see cref="Prepare"/> to <see cref="Clear"/>: the asker counts it among its requests in flight.</summary>
    public bool Started { get; private set; }

    /// <summary>Takes on a new request (before it is put in the answerer's table).</summary>
    public void Prepare(BrokerPeer asker, uint askerId, uint id, string sender, string request, TimeSpan wait)
    {
        Asker = asker;
        AskerId = askerId;
        Sender = sender;
        Request = request;
        Wait = wait;
        Started = true;
        Volatile.Write(ref _deadline, _time.GetTimestamp() + (long)(wait.TotalSeconds * _time.TimestampFrequency));
        Volatile.Write(ref _id, id); // after the deadline: a timer callback that reads this id reads this deadline
    }

    /// <summary>Lets go of the last request's asker and names (before it waits in the pool).</summary>
    public void Clear()
    {
        Asker = _answerer;
        AskerId = 0;
        Started = false;
        Sender = Request = string.Empty;
    }

    /// <summary>Starts the timeout (after the request is in the answerer's table, so a timer that fires at once finds it).</summary>
    public void Arm() => _timer.Change(Wait, Timeout.InfiniteTimeSpan);

    /// <summary>Stops the timeout (by whoever ended the request).</summary>
    public void Disarm() => _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    /// <summary>Answers the asker with the handler's failure.</summary>
    public void Fail(string detail)
    {
        var error = Router.HandlerFailed(Sender, Request, detail);
        Asker.SendReply(AskerId, error.Code, error.Message, default);
    }

    public void Dispose() => _timer.Dispose();

    private void OnTimer()
    {
        while (true)
        {
            var id = Id;
            var deadline = Volatile.Read(ref _deadline);
            var now = _time.GetTimestamp();
            if (now >= deadline)
            {
                // Ends it only if this use is still in the table (the reply or a leaving client may have come first).
                if (_answerer.TryEndForwarded(id, this, out _))
                {
                    var error = Router.TimedOut(Sender, Request, Wait);
                    Asker.SendReply(AskerId, error.Code, error.Message, default);
                    _answerer.ReturnForwarded(this);
                }

                return;
            }

            // Early, or left over from an earlier use: wait for this use's deadline instead. If the request was
            // re-used meanwhile, arm for the new one (its own Arm may have come before this Change).
            // Timers count whole milliseconds and may fire a little early against this clock: round the rest up, or a
            // fire under a millisecond early would re-arm for 0 ms and spin until the deadline.
            var remaining = TimeSpan.FromMilliseconds(Math.Ceiling(_time.GetElapsedTime(now, deadline).TotalMilliseconds));
            try
            {
                _timer.Change(remaining, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // The system and fake providers return false after Dispose; a provider that throws instead must not
                // crash a timer thread. A disposed one left the pool for good: nothing of it is pending.
                return;
            }

            if (Id == id)
            {
                return;
            }
        }
    }
}
