namespace Switchboard;

/// <summary>A sender online on the bus, as presence queries list it.</summary>
/// <param name="Name">The sender's unique name.</param>
/// <param name="Events">The events it declared.</param>
/// <param name="Requests">The requests it answers by name.</param>
/// <param name="HasDefaultHandler">Whether it answers requests of any other name too.</param>
public sealed record SenderInfo(string Name, IReadOnlyList<string> Events, IReadOnlyList<string> Requests, bool HasDefaultHandler);
