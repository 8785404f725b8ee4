using System.Threading.Channels;
using Switchboard.Routing;

namespace Switchboard;

/// <summary>
/// A gather in progress: enumerate it (<c>await foreach</c>) for results as they arrive; it ends when every producer
/// asked has answered or failed, when the ttl passes, or when the caller cancels. <see cref="Summary"/> then says how it went.
/// </summary>
public sealed class GatherCall : IAsyncEnumerable<GatherResult>
{
    private readonly Router _router;
    private readonly Channel<GatherResult> _results = Channel.CreateUnbounded<GatherResult>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly TaskCompletionSource<GatherSummary> _summary = new(TaskCreationOptions.RunContinuationsAsynchronously);
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

    internal GatherCall(Router router, string topic, string[] asked, TimeSpan ttl, CancellationToken cancellationToken)
    {
        _router = router;
        Topic = topic;
        _asked = asked;
        _waiting = new HashSet<string>(asked, StringComparer.Ordinal);
        _timer = router.Time.CreateTimer(static state => ((GatherCall)state!).Finish(canceled: false), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (_waiting.Count == 0)
        {
            Finish(canceled: false);
            return;
        }

        _timer.Change(ttl, Timeout.InfiniteTimeSpan);
        _cancellation = cancellationToken.Register(static state => ((GatherCall)state!).Finish(canceled: true), this);
    }

    /// <summary>The topic gathered on.</summary>
    public string Topic { get; }

    /// <summary>The producers asked.</summary>
    public IReadOnlyList<string> Asked => _asked;

    /// <summary>Completes when the gather ends.</summary>
    public Task<GatherSummary> Summary => _summary.Task;

    internal CancellationToken ProducerToken => _producers.Token;

    /// <summary>Called with the late count each time a result arrives after the gather ended (the broker forwards it).</summary>
    internal Action<int>? OnLate { get; set; }

    /// <summary>Results as they arrive, until the gather ends.</summary>
    /// <param name="cancellationToken">Stops enumerating (the gather itself goes on until its ttl).</param>
    public IAsyncEnumerator<GatherResult> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        _results.Reader.ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

    internal async ValueTask OnResultAsync(string producer, Payload data)
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
                _results.Writer.TryWrite(new GatherResult(producer, Topic, data));
            }
        }

        if (late > 0)
        {
            _router.Counters.AddLateResult();
            _router.Log.LateResult(Topic, producer);
            OnLate?.Invoke(late);
            return;
        }

        await _router.DeliverResultAsync(Topic, new BusMessage(producer, Topic, data));
        FinishIfComplete();
    }

    internal void OnFailure(string producer, Exception error)
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
        GatherSummary summary;
        lock (_lock)
        {
            if (_done)
            {
                return;
            }

            _done = true;
            summary = new GatherSummary(Topic, [.. _answered], [.. _asked.Where(_waiting.Contains)], new Dictionary<string, string>(_failed), canceled, () => Volatile.Read(ref _late));
            _results.Writer.TryComplete();
        }

        _timer.Dispose();
        _cancellation.Dispose();
        _producers.Cancel();
        _summary.TrySetResult(summary);
    }
}
