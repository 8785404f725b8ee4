namespace Switchboard;

/// <summary>A registered producer. Disposing it removes it from its topics.</summary>
public interface IProducer : IAsyncDisposable
{
    /// <summary>The producer's name, as gather summaries list it.</summary>
    string Name { get; }

    /// <summary>The topics it answers.</summary>
    IReadOnlyList<string> Topics { get; }
}
