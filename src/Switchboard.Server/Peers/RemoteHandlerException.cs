namespace Switchboard.Server;

/// <summary>A client's request handler or producer failed; carries its message back to the asker.</summary>
internal sealed class RemoteHandlerException : SwitchboardException
{
    public RemoteHandlerException(string message)
        : base(ErrorCodes.HandlerError, message)
    {
    }
}
