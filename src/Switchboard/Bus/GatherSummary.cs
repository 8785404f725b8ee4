namespace Switchboard;

/// <summary>How a gather ended: who answered within the ttl, who did not, who failed, and how many answered late.</summary>
public sealed class GatherSummary
{
    private readonly Func<int> _late;

    internal GatherSummary(string topic, IReadOnlyList<string> answered, IReadOnlyList<string> missing, IReadOnlyDictionary<string, string> failed, bool canceled, Func<int> late)
    {
        Topic = topic;
        Answered = answered;
        Missing = missing;
        Failed = failed;
        Canceled = canceled;
        _late = late;
    }

    /// <summary>The topic gathered on.</summary>
    public string Topic { get; }

    /// <summary>Producers whose result arrived within the ttl, in arrival order.</summary>
    public IReadOnlyList<string> Answered { get; }

    /// <summary>Producers asked that gave no result within the ttl.</summary>
    public IReadOnlyList<string> Missing { get; }

    /// <summary>Producers that failed within the ttl, with their error messages.</summary>
    public IReadOnlyDictionary<string, string> Failed { get; }

    /// <summary>True when the caller cancelled the gather before it ended.</summary>
    public bool Canceled { get; }

    /// <summary>Results that arrived after the gather ended and were dropped. Live: it grows as late results still arrive.</summary>
    public int Late => _late();
}
