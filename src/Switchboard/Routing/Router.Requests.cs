namespace Switchboard.Routing;

internal sealed partial class Router
{
    /// <summary>Asks a sender's handler; fails fast and distinctly (see <see cref="RequestFailedException"/>).</summary>
    public async ValueTask<Payload> RequestAsync(string sender, string request, Payload data, TimeSpan? timeout, MessageHeaders? headers, CancellationToken cancellationToken)
    {
        NameRules.ValidateSender(sender);
        NameRules.ValidateRequest(request);
        var wait = timeout ?? Options.DefaultRequestTimeout;
        if (wait <= TimeSpan.Zero)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"The request timeout is {wait}; it must be positive.");
        }

        if (!_senders.TryGetValue(sender, out var target))
        {
            throw new RequestFailedException(ErrorCodes.NoSender, sender, request, $"No sender named '{sender}' is online, so nobody can answer '{request}'. GetSendersAsync lists the senders online; listen to '#connect' to learn when it arrives.");
        }

        var handler = target.FindHandler(request)
            ?? throw new RequestFailedException(ErrorCodes.NoHandler, sender, request, $"Sender '{sender}' has no handler for the request '{request}' and no default handler; it answers: {(target.Info.Requests.Count == 0 ? "no requests" : string.Join(", ", target.Info.Requests))}.");

        using var deadline = new CancellationTokenSource(wait, Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        var call = new BusRequest(sender, request, data, headers ?? MessageHeaders.Empty);
        try
        {
            // The deadline holds even for a handler that ignores its token.
            return await handler(call, linked.Token).AsTask().WaitAsync(wait, Time, cancellationToken);
        }
        catch (Exception ex) when (IsTimeout(ex, deadline, cancellationToken))
        {
            // The handler's token must see the timeout too: a remote handler's forwarder stops waiting for the answer.
            await deadline.CancelAsync();
            throw new RequestFailedException(ErrorCodes.Timeout, sender, request, $"Sender '{sender}' did not answer '{request}' within {wait.TotalMilliseconds:0.###} ms.", ex);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (SwitchboardException ex) when (ex is RequestFailedException)
        {
            throw;
        }
        catch (Exception ex)
        {
            throw new RequestFailedException(ErrorCodes.HandlerError, sender, request, $"Sender '{sender}' failed to answer '{request}': {ex.Message}", ex);
        }
    }

    private static bool IsTimeout(Exception ex, CancellationTokenSource deadline, CancellationToken callerToken) =>
        !callerToken.IsCancellationRequested
        && (ex is TimeoutException || (ex is OperationCanceledException && deadline.IsCancellationRequested));
}
