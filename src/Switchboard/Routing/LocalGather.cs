namespace Switchboard.Routing;

/// <summary>
/// Runs one gather on the router: asks the chosen producers, publishes their results to the <see cref="GatherCall"/>
/// and the topic's result listeners while the ttl runs, ends on the last answer, the ttl or cancellation, and counts
/// what arrives after the end.
/// </summary>
internal sealed class LocalGather
{
    private readonly Router _router;
    private readonly Lock _lock = new();
    private readonly string[] _asked;
    private readonly HashSet<string> _waiting;
    private readonly List<string> _answered = [];
    private readonly Dictionary<string, string> _failed = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _producers = new();
    private readonly ITimer _timer;
    private readonly CancellationTokenRegistration _cancellation;
    private bool _done;
    private int _late;

    public LocalGather(Router router, string topic, string[] asked, TimeSpan ttl, CancellationToken cancellationToken)
    {
        _router = router;
        Call = new GatherCall(topic);
        _asked = asked;
        _waiting = new HashSet<string>(asked, StringComparer.Ordinal);
        _timer = router.Time.CreateTimer(static state => ((LocalGather)state!).Finish(canceled: false), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (_waiting.Count == 0)
        {
            Finish(canceled: false);
            return;
        }

        _timer.Change(ttl, Timeout.InfiniteTimeSpan);
        _cancellation = cancellationToken.Register(static state => ((LocalGather)state!).Finish(canceled: true), this);
    }

    public GatherCall Call { get; }

    public CancellationToken ProducerToken => _producers.Token;

    /// <summary>Called with the late count each time a result arrives after the gather ended (the broker forwards it).</summary>
    public Action<int>? OnLate { get; set; }

    public async ValueTask OnResultAsync(string producer, Payload data)
    {
        var late = 0;
        lock (_lock)
        {
            if (_done)
            {
                late = ++_late;
            }
            else
            {
                _answered.Add(producer);
                _waiting.Remove(producer);
                Call.Publish(new GatherResult(producer, Call.Topic, data));
            }
        }

        if (late > 0)
        {
            Call.SetLate(late);
            _router.Counters.AddLateResult();
            _router.Log.LateResult(Call.Topic, producer);
            OnLate?.Invoke(late);
            return;
        }

        await _router.DeliverResultAsync(Call.Topic, new BusMessage(producer, Call.Topic, data));
        FinishIfComplete();
    }

    public void OnFailure(string producer, Exception error)
    {
        lock (_lock)
        {
            if (_done)
            {
                return;
            }

            _failed[producer] = error.Message;
            _waiting.Remove(producer);
        }

        FinishIfComplete();
    }

    private void FinishIfComplete()
    {
        bool complete;
        lock (_lock)
        {
            complete = _waiting.Count == 0;
        }

        if (complete)
        {
            Finish(canceled: false);
        }
    }

    private void Finish(bool canceled)
    {
        lock (_lock)
        {
            if (_done)
            {
                return;
            }

            _done = true;
            Call.Complete([.. _answered], [.. _asked.Where(_waiting.Contains)], new Dictionary<string, string>(_failed), canceled);
        }

        _timer.Dispose();
        _cancellation.Dispose();
        _producers.Cancel();
    }
}
