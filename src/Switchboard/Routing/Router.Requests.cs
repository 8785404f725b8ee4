namespace Switchboard.Routing;

internal sealed partial class Router
{
    /// <summary>Asks a sender's handler; fails fast and distinctly (see <see cref="RequestFailedException"/>).</summary>
    public async ValueTask<Payload> RequestAsync(string sender, string request, Payload data, TimeSpan? timeout, MessageHeaders? headers, CancellationToken cancellationToken)
    {
        var handler = FindRequestHandler(sender, request, timeout, out var wait);
        if (SwitchboardTelemetry.ProcessObserved)
        {
            handler = SwitchboardTelemetry.Instrument(sender, handler); // its run is a 'process' span under the asker's
        }

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
            throw TimedOut(sender, request, wait, ex);
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
            throw HandlerFailed(sender, request, ex.Message, ex);
        }
    }

    /// <summary>Checks a request before it is asked and finds who answers it: the same checks and errors for every
    /// caller, whether the router then calls the handler (<see cref="RequestAsync"/>) or a broker forwards the
    /// request to the client that answers it.</summary>
    /// <param name="sender">The sender asked.</param>
    /// <param name="request">The request's name.</param>
    /// <param name="timeout">The asker's timeout; null for the default.</param>
    /// <param name="wait">The timeout that applies (<paramref name="timeout"/> or the default).</param>
    public RequestHandler FindRequestHandler(string sender, string request, TimeSpan? timeout, out TimeSpan wait)
    {
        NameRules.ValidateSender(sender);
        NameRules.ValidateRequest(request);
        wait = timeout ?? Options.DefaultRequestTimeout;
        if (wait <= TimeSpan.Zero)
        {
            throw new SwitchboardException(ErrorCodes.InvalidArgument, $"The request timeout is {wait}; it must be positive.");
        }

        if (wait > MaxRequestTimeout)
        {
            wait = MaxRequestTimeout; // a wire timeout of up to 2^32 - 1 ms, or TimeSpan.MaxValue from code, waits as long as timers can
        }

        if (!_senders.TryGetValue(sender, out var target))
        {
            throw new RequestFailedException(ErrorCodes.NoSender, sender, request, $"No sender named '{sender}' is online, so nobody can answer '{request}'. GetSendersAsync lists the senders online; listen to '#connect' to learn when it arrives.");
        }

        return target.FindHandler(request)
            ?? throw new RequestFailedException(ErrorCodes.NoHandler, sender, request, $"Sender '{sender}' has no handler for the request '{request}' and no default handler; it answers: {(target.Info.Requests.Count == 0 ? "no requests" : string.Join(", ", target.Info.Requests))}.");
    }

    /// <summary>The longest a request waits (the longest a system timer can be set for, about 49.7 days); longer timeouts are shortened to it.</summary>
    public static readonly TimeSpan MaxRequestTimeout = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>The error of a request whose handler did not answer in time.</summary>
    public static RequestFailedException TimedOut(string sender, string request, TimeSpan wait, Exception? inner = null) =>
        new(ErrorCodes.Timeout, sender, request, $"Sender '{sender}' did not answer '{request}' within {wait.TotalMilliseconds:0.###} ms.", inner);

    /// <summary>The error of a request whose handler failed (threw, or its client answered with an error or left).</summary>
    public static RequestFailedException HandlerFailed(string sender, string request, string detail, Exception? inner = null) =>
        new(ErrorCodes.HandlerError, sender, request, $"Sender '{sender}' failed to answer '{request}': {detail}", inner);

    private static bool IsTimeout(Exception ex, CancellationTokenSource deadline, CancellationToken callerToken) =>
        !callerToken.IsCancellationRequested
        && (ex is TimeoutException || (ex is OperationCanceledException && deadline.IsCancellationRequested));
}
