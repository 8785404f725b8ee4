namespace Switchboard;

/// <summary>Handles one delivered message. The token is cancelled when the listener closes.</summary>
public delegate ValueTask MessageHandler(BusMessage message, CancellationToken cancellationToken);

/// <summary>Answers one request addressed to a sender. Throwing sends the exception's message back as a <see cref="ErrorCodes.HandlerError"/>.</summary>
public delegate ValueTask<Payload> RequestHandler(BusRequest request, CancellationToken cancellationToken);

/// <summary>Produces one result for a gather on a topic the producer registered for.</summary>
public delegate ValueTask<Payload> ProducerHandler(GatherRequest request, CancellationToken cancellationToken);
