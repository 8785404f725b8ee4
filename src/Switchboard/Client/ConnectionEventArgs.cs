namespace Switchboard;

/// <summary>A change of a <see cref="BusClient"/>'s connection.</summary>
/// <param name="Address">The broker address concerned.</param>
/// <param name="Reason">Why the connection ended (for a disconnect), or null.</param>
public sealed record ConnectionEventArgs(string Address, string? Reason);
