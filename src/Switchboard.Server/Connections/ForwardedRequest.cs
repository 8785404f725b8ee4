using Switchboard.Routing;

namespace Switchboard.Server;

/// <summary>
/// A request from one client that another client answers, forwarded by the broker without a task, a continuation or
/// a thread hop: the REQUEST_IN goes out from the asker's read loop, and the REPLY is written to the asker from the
/// answerer's read loop. Ends exactly once: by the reply, by its timeout, or when the answerer's connection closes.
/// The errors are the router's (<see cref="Router.FindRequestHandler"/>, <see cref="Router.TimedOut"/>,
/// <see cref="Router.HandlerFailed"/>), so a client sees the same answers as through <see cref="Router.RequestAsync"/>.
/// </summary>
internal sealed class ForwardedRequest
{
    private readonly BrokerConnection _answerer;
    private readonly uint _id;
    private ITimer? _timer;
    private int _finished;

    public ForwardedRequest(BrokerConnection asker, uint askerId, BrokerConnection answerer, uint id, string sender, string request, TimeSpan wait)
    {
        Asker = asker;
        AskerId = askerId;
        _answerer = answerer;
        _id = id;
        Sender = sender;
        Request = request;
        Wait = wait;
    }

    public BrokerConnection Asker { get; }

    public uint AskerId { get; }

    public string Sender { get; }

    public string Request { get; }

    public TimeSpan Wait { get; }

    public void StartTimer(TimeProvider time)
    {
        var timer = time.CreateTimer(static state => ((ForwardedRequest)state!).OnTimeout(), this, Wait, Timeout.InfiniteTimeSpan);
        Volatile.Write(ref _timer, timer);
        if (Volatile.Read(ref _finished) != 0)
        {
            timer.Dispose(); // answered before the timer was stored: TryFinish could not stop it
        }
    }

    /// <summary>True for the one caller that ends it (a reply, the timeout, or the answerer leaving).</summary>
    public bool TryFinish()
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0)
        {
            return false;
        }

        Volatile.Read(ref _timer)?.Dispose();
        Asker.OnAskedEnded();
        return true;
    }

    /// <summary>Answers the asker with the handler's failure.</summary>
    public void Fail(string detail)
    {
        var error = Router.HandlerFailed(Sender, Request, detail);
        Asker.SendReply(AskerId, error.Code, error.Message, default);
    }

    private void OnTimeout()
    {
        // The answerer may still reply; it finds nothing waiting and the late reply is dropped.
        if (_answerer.ForgetForwarded(_id) && TryFinish())
        {
            var error = Router.TimedOut(Sender, Request, Wait);
            Asker.SendReply(AskerId, error.Code, error.Message, default);
        }
    }
}
