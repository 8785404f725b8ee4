namespace Switchboard;

/// <summary>A request as its handler sees it.</summary>
/// <param name="Sender">The sender asked (the handler's own sender).</param>
/// <param name="Name">The request name.</param>
/// <param name="Data">The request's data.</param>
/// <param name="Headers">The request's headers.</param>
public readonly record struct BusRequest(string Sender, string Name, Payload Data, MessageHeaders Headers);

/// <summary>A gather as a producer sees it.</summary>
/// <param name="Topic">The topic gathered on.</param>
/// <param name="Producer">The producer asked.</param>
/// <param name="Data">The gather's data.</param>
/// <param name="Headers">The gather's headers.</param>
public readonly record struct GatherRequest(string Topic, string Producer, Payload Data, MessageHeaders Headers);

/// <summary>One producer's answer to a gather.</summary>
/// <param name="Producer">The producer that answered.</param>
/// <param name="Topic">The topic gathered on.</param>
/// <param name="Data">Its answer.</param>
public readonly record struct GatherResult(string Producer, string Topic, Payload Data);
