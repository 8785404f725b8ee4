namespace Switchboard;

/// <summary>Optional parts of a sender.</summary>
public sealed record SenderOptions
{
    /// <summary>Answers requests whose name has no handler of its own.</summary>
    public RequestHandler? DefaultRequestHandler { get; init; }

    /// <summary>The last will: an event (one the sender declared) the bus triggers for the sender if its connection dies
    /// without closing it.</summary>
    public string? WillEvent { get; init; }

    /// <summary>The data of the last will.</summary>
    public Payload WillData { get; init; }
}
