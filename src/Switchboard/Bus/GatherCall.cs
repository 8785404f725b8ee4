using System.Threading.Channels;

namespace Switchboard;

/// <summary>
/// A gather in progress: enumerate it (<c>await foreach</c>) for results as they arrive; it ends when every producer
/// asked has answered or failed, when the ttl passes, or when the caller cancels. <see cref="Summary"/> then says how it went.
/// </summary>
public sealed class GatherCall : IAsyncEnumerable<GatherResult>
{
    private readonly Channel<GatherResult> _results = Channel.CreateUnbounded<GatherResult>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly TaskCompletionSource<GatherSummary> _summary = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _late;

    internal GatherCall(string topic)
    {
        Topic = topic;
    }

    /// <summary>The topic gathered on.</summary>
    public string Topic { get; }

    /// <summary>Completes when the gather ends.</summary>
    public Task<GatherSummary> Summary => _summary.Task;

    /// <summary>Results that arrived after the gather ended and were dropped.</summary>
    public int Late => Volatile.Read(ref _late);

    /// <summary>Results as they arrive, until the gather ends.</summary>
    /// <param name="cancellationToken">Stops enumerating (the gather itself goes on until it ends).</param>
    public IAsyncEnumerator<GatherResult> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        _results.Reader.ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

    internal void Publish(GatherResult result) => _results.Writer.TryWrite(result);

    internal void SetLate(int late) => Volatile.Write(ref _late, late);

    /// <summary>Ends the gather with a refusal (first call wins): enumerating it throws <paramref name="error"/>, and so
    /// does <see cref="Summary"/>.</summary>
    internal void Fail(Exception error)
    {
        if (_results.Writer.TryComplete(error))
        {
            _summary.TrySetException(error);
            _ = _summary.Task.Exception; // observed here: a caller that only enumerates has seen it already
        }
    }

    /// <summary>Ends the stream of results and publishes the summary (first call wins).</summary>
    internal void Complete(IReadOnlyList<string> answered, IReadOnlyList<string> missing, IReadOnlyDictionary<string, string> failed, bool canceled)
    {
        if (_results.Writer.TryComplete())
        {
            _summary.TrySetResult(new GatherSummary(Topic, answered, missing, failed, canceled, () => Late));
        }
    }
}
