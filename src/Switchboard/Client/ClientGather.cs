namespace Switchboard.Client;

/// <summary>A gather this client started: the broker streams results and then the summary; this keeps what has arrived.</summary>
internal sealed class ClientGather : IPendingCall
{
    private readonly Lock _lock = new();
    private readonly List<string> _answered = [];
    private bool _done;

    public ClientGather(GatherCall call) => Call = call;

    public GatherCall Call { get; }

    public CancellationTokenRegistration Cancellation { get; set; }

    public void OnResult(string producer, Payload data)
    {
        lock (_lock)
        {
            if (_done)
            {
                return;
            }

            _answered.Add(producer);
            Call.Publish(new GatherResult(producer, Call.Topic, data));
        }
    }

    public void OnDone(string[] answered, string[] missing, Dictionary<string, string> failed, bool canceled)
    {
        lock (_lock)
        {
            if (_done)
            {
                return;
            }

            _done = true;
            Call.Complete(answered, missing, failed, canceled);
        }

        Cancellation.Dispose();
    }

    /// <summary>Ends the gather with what has arrived (cancelled by the caller, or the connection went away).</summary>
    public void Finish(bool canceled)
    {
        lock (_lock)
        {
            if (_done)
            {
                return;
            }

            _done = true;
            Call.Complete([.. _answered], [], new Dictionary<string, string>(), canceled);
        }
    }

    public void Complete(object? result)
    {
    }

    /// <summary>The broker refused the gather (forbidden, too many...): the caller sees why. A connection that went away
    /// (or a client disposed) ends it with what has arrived instead, as cancelled.</summary>
    public void Fail(Exception error)
    {
        if (error is SwitchboardException { Code: ErrorCodes.ConnectionLost or ErrorCodes.Closed })
        {
            Finish(canceled: true);
            return;
        }

        lock (_lock)
        {
            if (_done)
            {
                return;
            }

            _done = true;
            Call.Fail(error);
        }

        Cancellation.Dispose();
    }
}
